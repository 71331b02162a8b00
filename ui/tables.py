"""The tables the pages show, one function each: records in, a DataFrame with the analyst's column names out."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from core.catalog.policies import Decision
from core.records import Document, DocumentStatus, UsageEvent, User
from core.workbench import StoreSummary
from core.workbench.usage import LimitUse


def stores(summaries: Sequence[StoreSummary]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Store": s.store.name,
                "Documents": s.documents,
                "Chunks": s.chunks,
                "Size (MB)": round(s.size_bytes / 2**20, 2) if s.size_bytes is not None else None,
                "Embedding model": s.store.embedding_model,
                "Storage": s.store.backend,
                "Owner": s.store.owner,
                "Your role": s.role.value,
                "Last change (UTC)": f"{s.updated_at:%Y-%m-%d %H:%M}" if s.updated_at else "",
            }
            for s in summaries
        ]
    )


def documents(found: Sequence[Document]) -> pd.DataFrame:
    table = pd.DataFrame(
        [
            {
                "Name": d.filename,
                "Type": d.filename.rsplit(".", 1)[-1].lower() if "." in d.filename else "",
                "Pages": d.page_count,
                "Chunks": d.chunk_count,
                "Size (KB)": round(d.size_bytes / 1024, 1),
                "Status": d.status.value if d.status is not DocumentStatus.FAILED else f"failed: {d.error}",
                "Notes": " ".join(d.notes),
                "Uploaded by": d.uploaded_by,
                "Uploaded (UTC)": f"{d.created_at:%Y-%m-%d %H:%M}",
            }
            for d in found
        ],
        columns=["Name", "Type", "Pages", "Chunks", "Size (KB)", "Status", "Notes", "Uploaded by", "Uploaded (UTC)"],
    )
    table["Pages"] = table["Pages"].astype("Int64")  # a Word file or a note has none: an empty cell, not "None"
    return table


def users(people: Sequence[User]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "User": u.name,
                "Role": "administrator" if u.is_admin else "user",
                "Status": "disabled" if u.disabled else ("active" if u.has_password else "no password yet"),
                "Since (UTC)": f"{u.created_at:%Y-%m-%d}" if u.created_at else "",
            }
            for u in people
        ]
    )


def decisions(found: Sequence[Decision]) -> pd.DataFrame:
    """One row per decision of a store's policy: when, who, through what, which policy, what it checked and did."""
    return pd.DataFrame(
        [
            {
                "Time (UTC)": f"{d.created_at:%Y-%m-%d %H:%M:%S}" if d.created_at else "",
                "User": d.user,
                "Through": d.channel,
                "Store": d.store,
                "Policy": d.policy,
                "Checked": d.subject,
                "Action": d.action,
                "Score": "" if d.score is None else f"{d.score:.2f}",
                "Reason": d.reason,
                "What": d.what,
            }
            for d in found
        ],
        columns=["Time (UTC)", "User", "Through", "Store", "Policy", "Checked", "Action", "Score", "Reason", "What"],
    )


def limits(rows: Sequence[LimitUse]) -> pd.DataFrame:
    """Each user's and key's use of a store's limit now, with what is left and when it starts again."""
    money = lambda r, v: f"${v:,.2f}" if r.kind.startswith("spending") else f"{int(v):,}"  # noqa: E731
    return pd.DataFrame(
        [
            {"Store": r.store, "Who": r.who, "Limit": r.kind, "Used": money(r, r.used), "Of": money(r, r.limit),
             "Left": money(r, r.left), "Share used": min(1.0, r.used / r.limit) if r.limit else 0.0,
             "Starts again (UTC)": f"{r.resets_at:%Y-%m-%d %H:%M}"}
            for r in rows
        ],
        columns=["Store", "Who", "Limit", "Used", "Of", "Left", "Share used", "Starts again (UTC)"],
    )  # fmt: skip


def audit(events: Sequence[UsageEvent]) -> pd.DataFrame:
    """One row per call to a remote model: when, who, through what, on which stores, and what was kept from it."""
    return pd.DataFrame(
        [
            {
                "Time (UTC)": f"{e.created_at:%Y-%m-%d %H:%M:%S}" if e.created_at else "",
                "User": e.user,
                "Through": e.channel,
                "Stores": ", ".join(e.stores) or (e.store or ""),
                "Kind": e.kind,
                "Model": e.model,
                "Tokens": e.prompt_tokens + e.completion_tokens,
                "Redacted": ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(e.redactions.items())),
                "OK": e.ok,
            }
            for e in events
        ],
        columns=["Time (UTC)", "User", "Through", "Stores", "Kind", "Model", "Tokens", "Redacted", "OK"],
    )
