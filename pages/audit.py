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
try:
    calls = wb.usage.audit(me, since=periods.since(st, key="audit_period"))
except WorkbenchError as exc:
    fail(exc)
if not calls:
    st.info("No remote model was called in this period: everything ran on the bundled local models.")
    st.stop()
redacted = sum(sum(e.redactions.values()) for e in calls)
left, middle, right = st.columns(3)
left.metric("Remote calls", f"{len(calls):,}")
middle.metric("Tokens sent and received", f"{sum(e.prompt_tokens + e.completion_tokens for e in calls):,}")
right.metric("Personal data redacted", f"{redacted:,}")
st.dataframe(tables.audit(calls), hide_index=True, width="stretch", key="audit_table")
