"""Usage: one recorder that every model call and ingest reports to, and the tables the usage charts draw.

Who sees what: an administrator sees every event; anyone else sees their own events and the events on
stores they own (the owner of a shared store sees how it is used).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from core.catalog import Catalog
from core.records import Store, UsageEvent

COLUMNS = [
    "time",
    "day",
    "kind",
    "user",
    "store",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "tokens",
    "cost",
    "latency_ms",
    "ok",
    "error",
    "documents",
    "pages",
    "chunks",
    "grounded",
    "channel",
    "key",
]


class UsageRecorder:
    """Records model calls of one kind by one user on some stores; `record` takes any response with
    token counts, cost and latency (embedding, chat, rerank, vision), or None for a call that failed."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        kind: str,
        user: str,
        stores: Sequence[Store] = (),
        model: str = "",
        channel: str = "app",
        key_id: str | None = None,
    ) -> None:
        self.catalog = catalog
        self.channel, self.key_id = channel, key_id
        self.kind = kind
        self.user = user
        self.stores = tuple(s.name for s in stores)
        self.store_ids = tuple(s.id for s in stores)  # the history follows a store when it is renamed
        self.model = model

    def record(
        self,
        response: object | None,
        *,
        error: str | None = None,
        kind: str | None = None,
        model: str | None = None,
        grounded: bool | None = None,
    ) -> None:
        error = error or getattr(response, "error", None)
        self.catalog.record_usage(
            UsageEvent(
                kind=kind or self.kind,
                user=self.user,
                model=model or self.model,
                stores=self.stores,
                store_ids=self.store_ids,
                channel=self.channel,
                key_id=self.key_id,
                prompt_tokens=int(getattr(response, "prompt_tokens", 0) or 0),
                completion_tokens=int(getattr(response, "completion_tokens", 0) or 0),
                cost=float(getattr(response, "cost", 0.0) or 0.0),
                latency_ms=float(getattr(response, "latency_ms", 0.0) or 0.0),
                ok=error is None,
                error=error,
                grounded=grounded,
                redactions=dict(getattr(response, "redactions", None) or {}),
            )
        )

    def ingested(self, *, documents: int, pages: int, chunks: int) -> None:
        self.catalog.record_usage(
            UsageEvent(
                kind="ingest",
                user=self.user,
                model=self.model,
                stores=self.stores,
                store_ids=self.store_ids,
                channel=self.channel,
                key_id=self.key_id,
                documents=documents,
                pages=pages,
                chunks=chunks,
            )
        )


@dataclass(frozen=True)
class UsageReport:
    """The events one viewer may see for a period and filters, and the tables drawn from them.

    `events` has one row per event and store (an event over two stores appears under each), so that
    per-store tables count it for both; every other table counts each event once.
    """

    events: pd.DataFrame

    @property
    def unique(self) -> pd.DataFrame:
        return self.events.drop_duplicates("event")

    def requests_per_day(self) -> pd.DataFrame:
        """day, kind, requests (ingests count as requests too)."""
        return _count(self.unique, ["day", "kind"], "requests")

    def tokens_and_cost_per_day(self) -> pd.DataFrame:
        """day, model, tokens, cost: model calls only."""
        calls = self.unique[self.unique["kind"] != "ingest"]
        if calls.empty:
            return pd.DataFrame(columns=["day", "model", "tokens", "cost"])
        return calls.groupby(["day", "model"], as_index=False)[["tokens", "cost"]].sum()

    def latency(self) -> pd.DataFrame:
        """model, kind, requests, p50_ms, p95_ms: successful model calls only."""
        calls = self.unique[(self.unique["kind"] != "ingest") & self.unique["ok"]]
        if calls.empty:
            return pd.DataFrame(columns=["model", "kind", "requests", "p50_ms", "p95_ms"])
        grouped = calls.groupby(["model", "kind"])["latency_ms"]
        table = grouped.agg(
            requests="count", p50_ms=lambda s: s.quantile(0.5), p95_ms=lambda s: s.quantile(0.95)
        ).reset_index()
        return table.sort_values(["model", "kind"], ignore_index=True)

    def top_users(self, n: int = 10) -> pd.DataFrame:
        """user, requests, tokens, cost: the busiest first."""
        return _top(self.unique, "user", n)

    def top_stores(self, n: int = 10) -> pd.DataFrame:
        """store, requests, tokens, cost: the busiest first (events with no store are left out)."""
        return _top(self.events[self.events["store"] != ""], "store", n)

    def ingest_volume(self) -> pd.DataFrame:
        """day, documents, pages, chunks written."""
        ingests = self.unique[self.unique["kind"] == "ingest"]
        if ingests.empty:
            return pd.DataFrame(columns=["day", "documents", "pages", "chunks"])
        return ingests.groupby("day", as_index=False)[["documents", "pages", "chunks"]].sum()

    def table(self) -> pd.DataFrame:
        """One row per event, for download: the stores of an event joined by commas."""
        if self.events.empty:
            return self.events.drop(columns=["event"])
        stores = self.events.groupby("event")["store"].agg(lambda s: ", ".join(x for x in s if x))
        table = self.unique.set_index("event").assign(store=stores).reset_index(drop=True)
        return table[COLUMNS]


def report(
    catalog: Catalog,
    *,
    viewer_is_admin: bool,
    viewer: str,
    owned_stores: Sequence[str],
    since: datetime | None = None,
    until: datetime | None = None,
    user: str | None = None,
    store: str | None = None,
    channel: str | None = None,
    key: str | None = None,
) -> UsageReport:
    """The usage the viewer may see, in the period, of one user, store, channel (app, api, cli) or API key if given."""
    owned = set(owned_stores)
    rows = []
    for number, event in enumerate(catalog.usage(since=since, until=until)):
        touched = event.stores or ((event.store,) if event.store else ())
        if not viewer_is_admin and event.user != viewer and not owned.intersection(touched):
            continue
        if user is not None and event.user != user:
            continue
        if store is not None and store not in touched:
            continue
        if (channel is not None and event.channel != channel) or (key is not None and event.key_id != key):
            continue
        created = event.created_at or datetime.min
        for name in touched or ("",):
            rows.append(
                {
                    "event": number,
                    "time": created,
                    "day": pd.Timestamp(created.date()),
                    "kind": event.kind,
                    "user": event.user,
                    "store": name,
                    "model": event.model,
                    "prompt_tokens": event.prompt_tokens,
                    "completion_tokens": event.completion_tokens,
                    "tokens": event.prompt_tokens + event.completion_tokens,
                    "cost": event.cost,
                    "latency_ms": event.latency_ms,
                    "ok": event.ok,
                    "error": event.error or "",
                    "documents": event.documents,
                    "pages": event.pages,
                    "chunks": event.chunks,
                    "grounded": event.grounded,
                    "channel": event.channel,
                    "key": event.key_id or "",
                }
            )
    return UsageReport(pd.DataFrame(rows, columns=["event", *COLUMNS]))


def _count(frame: pd.DataFrame, keys: list[str], name: str) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=[*keys, name])
    return frame.groupby(keys, as_index=False).size().rename(columns={"size": name})


def _top(frame: pd.DataFrame, key: str, n: int) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=[key, "requests", "tokens", "cost"])
    table = frame.groupby(key, as_index=False).agg(
        requests=("event", "count"), tokens=("tokens", "sum"), cost=("cost", "sum")
    )
    return table.sort_values(["requests", key], ascending=[False, True], ignore_index=True).head(n)
