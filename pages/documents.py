"""Documents: what a store holds, each document's chunks with their locations, and deleting one."""

import streamlit as st

from core.errors import WorkbenchError
from core.records import DocumentStatus, Role
from ui import tables
from ui.session import signed_in

wb, me = signed_in()
st.title("Documents")
summaries = wb.stores.visible(me)
if not summaries:
    st.info("No stores yet: create one on the Stores page.")
    st.stop()
name = st.selectbox("Store", [s.store.name for s in summaries], key="documents_store")
role = next(s.role for s in summaries if s.store.name == name)
documents = wb.documents.of(me, name)
if not documents:
    st.info(f"'{name}' has no documents yet: add files on the Upload page.")
    st.stop()
st.dataframe(tables.documents(documents), hide_index=True, width="stretch", key="documents_table")

ready = [d for d in documents if d.status is DocumentStatus.READY]
labels = {f"{d.filename} ({d.chunk_count} chunks)": d for d in ready}
if labels:
    document = labels[st.selectbox("Open a document", list(labels), key="open_document")]
    chunks = wb.documents.chunks(me, name, document.id)
    for chunk in chunks[:200]:
        where = chunk.location or "no location"
        with st.expander(f"Chunk {chunk.chunk_index + 1} · {where} · {len(chunk.text):,} characters"):
            st.text(chunk.text)
    if len(chunks) > 200:
        st.caption(f"The first 200 of {len(chunks):,} chunks.")

if role.rank >= Role.EDITOR.rank:
    st.subheader("Delete a document")
    everything = {f"{d.filename} · {d.status.value} · {d.created_at:%Y-%m-%d %H:%M}": d for d in documents}
    doomed = everything[st.selectbox("Document", list(everything), key="delete_document_choice")]
    if st.button("Delete document", key="delete_document"):
        try:
            wb.documents.delete(me, name, doomed.id)
            st.rerun()
        except WorkbenchError as exc:
            st.error(str(exc))
