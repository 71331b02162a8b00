"""Documents: a store's documents, filterable and paged; a document's chunks to search, check and fix."""

import streamlit as st

from core.errors import WorkbenchError
from core.records import DocumentStatus, Role
from ui import tables
from ui.chunk_view import chunk_browser
from ui.html import plain
from ui.session import signed_in

PER_PAGE = 50

wb, me = signed_in()
st.title("Documents")
summaries = wb.stores.visible(me)
if not summaries:
    st.info("No stores yet: create one on the Stores page.")
    st.stop()
if focus := st.session_state.pop("documents_focus", None):  # arriving from a search hit or a citation
    st.session_state["documents_store"] = focus["store"]
    st.session_state["open_document"] = focus["document"]
    st.session_state["chunks_focus"] = (focus["document"], focus["chunk"])
    for key in ("documents_find", "documents_types", "documents_states", "chunks_find", "chunks_places"):
        st.session_state.pop(key, None)
name = st.selectbox("Store", [s.store.name for s in summaries], key="documents_store")
role = next(s.role for s in summaries if s.store.name == name)
documents = wb.documents.of(me, name)
if not documents:
    st.info(f"'{plain(name)}' has no documents yet: add files on the Upload page.")
    st.stop()
find, kind, state = st.columns([2, 1, 1])
needle = find.text_input("Find a document", key="documents_find", placeholder="part of its name").strip().lower()
types = sorted({d.filename.rsplit(".", 1)[-1].lower() for d in documents if "." in d.filename})
kinds = kind.multiselect("Type", types, key="documents_types")
states = state.multiselect("Status", [s.value for s in DocumentStatus], key="documents_states")
shown = [
    d
    for d in reversed(documents)  # newest first
    if needle in d.filename.lower()
    and (not kinds or d.filename.rsplit(".", 1)[-1].lower() in kinds)
    and (not states or d.status.value in states)
]
pages = max(1, -(-len(shown) // PER_PAGE))
page = st.number_input(f"Page (of {pages})", 1, pages, key="documents_page") if pages > 1 else 1
first = (int(page) - 1) * PER_PAGE
st.dataframe(tables.documents(shown[first : first + PER_PAGE]), hide_index=True, width="stretch", key="documents_table")
st.caption(
    f"{len(shown):,} of {len(documents):,} documents"
    + (f" · {first + 1}–{min(first + PER_PAGE, len(shown))}" if shown else "")
)

ready = {d.id: d for d in reversed(documents) if d.status is DocumentStatus.READY}
if ready:
    if st.session_state.get("open_document") not in ready:
        st.session_state.pop("open_document", None)
    label = lambda i: f"{ready[i].filename} · {ready[i].chunk_count:,} chunks · {ready[i].created_at:%Y-%m-%d}"  # noqa: E731
    document = ready[st.selectbox("Open a document", list(ready), format_func=label, key="open_document")]
    try:
        chunk_browser(wb, me, name, document, editable=role.rank >= Role.EDITOR.rank)
    except WorkbenchError as exc:
        st.error(plain(str(exc)))

if role.rank >= Role.EDITOR.rank:
    with st.expander("Delete a document", icon=":material/delete:"):
        everything = {f"{d.filename} · {d.status.value} · {d.created_at:%Y-%m-%d %H:%M}": d for d in documents}
        doomed = everything[st.selectbox("Document", list(everything), key="delete_document_choice")]
        if st.button("Delete document", key="delete_document", type="primary"):
            try:
                wb.documents.delete(me, name, doomed.id)
                st.rerun()
            except WorkbenchError as exc:
                st.error(plain(str(exc)))
