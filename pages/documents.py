"""Documents: a store's documents, filterable and paged; a document's chunks to search, check and fix."""

import streamlit as st

from core.errors import WorkbenchError
from core.parsing import supported_extensions
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
    for key in (
        "documents_find",
        "documents_types",
        "documents_states",
        "documents_noted",
        "chunks_find",
        "chunks_places",
    ):
        st.session_state.pop(key, None)
name = st.selectbox("Store", [s.store.name for s in summaries], key="documents_store")
role = next(s.role for s in summaries if s.store.name == name)
find, kind, state, noted = st.columns([2, 1, 1, 1])
needle = find.text_input("Find a document", key="documents_find", placeholder="part of its name")
kinds = kind.multiselect("Type", [e.lstrip(".") for e in supported_extensions()], key="documents_types")
states = state.multiselect("Status", [s.value for s in DocumentStatus], key="documents_states")
NOTES = {"": "Any", "Read by OCR": "Read by OCR", "Low OCR confidence": "Low OCR confidence"}
note = noted.selectbox("Reading", list(NOTES), format_func=NOTES.__getitem__, key="documents_noted")
wanted = int(st.session_state.get("documents_page", 1))
listed = wb.documents.page(
    me,
    name,
    find=needle,
    extensions=kinds,
    statuses=[DocumentStatus(s) for s in states],
    noted=note,
    page=wanted,
    per_page=PER_PAGE,
)
if not listed.matching and not (needle or kinds or states or note):
    st.info(f"'{plain(name)}' has no documents yet: add files on the Upload page.")
    st.stop()
if listed.pages > 1:
    st.session_state["documents_page"] = listed.page  # kept within the pages the filters leave
    st.number_input(f"Page (of {listed.pages:,})", 1, listed.pages, key="documents_page")
st.dataframe(tables.documents(listed.documents), hide_index=True, width="stretch", key="documents_table")
first = (listed.page - 1) * PER_PAGE
st.caption(
    f"{listed.matching:,} document{'s' * (listed.matching != 1)}"
    + ((" match" if listed.matching != 1 else " matches") if needle or kinds or states or note else "")
    + (f" · {first + 1:,}–{first + len(listed.documents):,}, newest first" if listed.documents else "")
)

ready = {d.id: d for d in listed.documents if d.status is DocumentStatus.READY}
opened = st.session_state.get("open_document")
if opened and opened not in ready:  # arriving from a search hit: that document, wherever it sits in the list
    ready = {d.id: d for d in wb.documents.of(me, name, ids=[opened]) if d.status is DocumentStatus.READY} | ready
if ready:
    if st.session_state.get("open_document") not in ready:
        st.session_state.pop("open_document", None)
    label = lambda i: f"{ready[i].filename} · {ready[i].chunk_count:,} chunks · {ready[i].created_at:%Y-%m-%d}"  # noqa: E731
    document = ready[
        st.selectbox("Open a document (of this page)", list(ready), format_func=label, key="open_document")
    ]
    try:
        chunk_browser(wb, me, name, document, editable=role.rank >= Role.EDITOR.rank)
    except WorkbenchError as exc:
        st.error(plain(str(exc)))

if role.rank >= Role.EDITOR.rank and listed.documents:
    with st.expander("Delete a document", icon=":material/delete:"):
        everything = {f"{d.filename} · {d.status.value} · {d.created_at:%Y-%m-%d %H:%M}": d for d in listed.documents}
        doomed = everything[st.selectbox("Document (of this page)", list(everything), key="delete_document_choice")]
        if st.button("Delete document", key="delete_document", type="primary"):
            try:
                wb.documents.delete(me, name, doomed.id)
                st.rerun()
            except WorkbenchError as exc:
                st.error(plain(str(exc)))
