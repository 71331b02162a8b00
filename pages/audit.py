"""Audit (administrators): every call to a remote model, who made it on which stores, and what was redacted."""

import streamlit as st

from core.errors import WorkbenchError
from ui import periods, tables
from ui.session import fail, signed_in

wb, me = signed_in()
st.title("Audit")
days = wb.settings.audit_days
st.caption(
    "Every call to a remote model (embedding, chat, rerank, vision): text that left this machine. "
    + (f"Records are kept {days} days (WORKBENCH_AUDIT_DAYS)." if days > 0 else "Records are kept forever.")
)
PER_PAGE = 200
since = periods.since(st, key="audit_period")
try:
    totals = wb.usage.audit_totals(me, since=since)
    pages = max(1, -(-totals.calls // PER_PAGE))
    page = st.number_input(f"Page (of {pages:,})", 1, pages, key="audit_page") if pages > 1 else 1
    calls = wb.usage.audit(me, since=since, page=int(page), per_page=PER_PAGE)
except WorkbenchError as exc:
    fail(exc)
if not totals.calls:
    st.info("No remote model was called in this period: everything ran on the bundled local models.")
else:
    left, middle, right = st.columns(3)
    left.metric("Remote calls", f"{totals.calls:,}")
    middle.metric("Tokens sent and received", f"{totals.tokens:,}")
    right.metric("Personal data redacted", f"{totals.redacted:,}")
    st.dataframe(tables.audit(calls), hide_index=True, width="stretch", key="audit_table")
    if pages > 1:
        first = (int(page) - 1) * PER_PAGE
        st.caption(f"Calls {first + 1:,}–{first + len(calls):,} of {totals.calls:,}, newest first")
st.subheader("Decisions of store policies")
count, decided = wb.usage.decisions(me, since=since, per_page=PER_PAGE)
kinds = ("passages withheld or flagged, questions refused, answers blocked, calls over a limit or budget, and changes "
         "to a store's policy (Stores page → Policies)")  # fmt: skip
st.caption(f"{count:,} in this period, the latest {len(decided):,} below: {kinds}." if count else f"None in this period: {kinds} appear here.")  # fmt: skip
if decided:
    st.dataframe(tables.decisions(decided), hide_index=True, width="stretch", key="audit_decisions")
