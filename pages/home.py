"""Stores: what the workbench holds (upload, search and chat pages come next)."""

import pandas as pd
import streamlit as st

from core.errors import WorkbenchError
from pages.services import services

st.title("RAG Workbench")
st.caption(
    "Document stores on this workbench. Create and fill them with `python -m core` for now; upload, search and chat pages are on their way."
)

username = st.session_state.get("username")
if not username:  # core refuses every operation without an acting user; the login page sets it
    st.warning("Sign in to see your stores.")
    st.stop()
try:
    summaries = services().list_stores(user=username)
except WorkbenchError as exc:
    st.error(str(exc))
    st.stop()

if not summaries:
    st.info(
        "No stores yet. Create one with `python -m core store create NAME`, then `python -m core ingest NAME FILES...`."
    )
    st.stop()

table = pd.DataFrame(
    [
        {
            "Store": s.store.name,
            "Documents": s.documents,
            "Chunks": s.chunks,
            "Backend": s.store.backend,
            "Embedding model": s.store.embedding_model,
            "Owner": s.store.owner,
            "Created": s.store.created_at,
        }
        for s in summaries
    ]
)
st.dataframe(table, hide_index=True, width="stretch", key="stores_table")
