"""Stores: create, list, share, rename, export, import and delete."""

import streamlit as st

from core.errors import WorkbenchError
from core.options import ChunkSettings, Strategy
from core.records import Role
from ui import tables
from ui.html import plain
from ui.policy_view import policies_tab
from ui.session import signed_in
from ui.sharing import sharing as share_tab
from ui.store_settings import embedding_tab, glossary_tab, privacy_tab, scans_tab

wb, me = signed_in()
st.title("Stores")
with st.expander("New store", icon=":material/add:", expanded=not wb.stores.visible(me)), st.form("create_store", clear_on_submit=True):  # fmt: skip
    name = st.text_input("Name", key="new_store_name", placeholder="e.g. finance-2026")
    description = st.text_input("Description", key="new_store_description")
    left, middle, right = st.columns(3)
    backend = left.selectbox("Storage", ["lancedb", "milvus"], key="new_store_backend")
    embedding = middle.selectbox("Embedding model", wb.models.choices(me, "embedding"), key="new_store_embedding")
    strategy = right.selectbox("Chunking", [s.value for s in Strategy], key="new_store_strategy")
    size = left.number_input("Chunk size", 50, 20_000, wb.settings.chunk_size, key="new_store_size")
    overlap = middle.number_input("Overlap", 0, 5_000, wb.settings.chunk_overlap, key="new_store_overlap")
    if st.form_submit_button("Create store", type="primary"):
        try:
            chunking = ChunkSettings(Strategy(strategy), int(size), int(overlap))
            wb.stores.create(me, name.strip(), backend=backend, embedding=embedding, chunking=chunking, description=description)  # fmt: skip
            st.toast(f"Created '{plain(name.strip())}'.", icon=":material/check:")
        except WorkbenchError as exc:
            st.error(plain(str(exc)))

summaries = wb.stores.visible(me, sizes=True)
if not summaries:
    st.info("No stores yet. Create one above, then add files on the Upload page.")
    st.stop()
st.dataframe(tables.stores(summaries), hide_index=True, width="stretch", key="stores_table")

st.subheader("Manage a store")
chosen = st.selectbox("Store", [s.store.name for s in summaries], key="manage_store")
summary = next(s for s in summaries if s.store.name == chosen)
if summary.role is not Role.OWNER:
    st.caption(
        f"You are a {summary.role.value} of '{plain(chosen)}'; its owner shares, renames, exports and deletes it."
    )
    st.stop()
sharing, rename, model, privacy, policies, scans, terms, export, delete = st.tabs(["Sharing", "Rename", "Embedding model", "Privacy", "Policies", "Scans", "Glossary", "Export", "Delete"])  # fmt: skip
with sharing:
    share_tab(wb, me, chosen)
with rename:
    new_name = st.text_input("New name", value=chosen, key="rename_to")
    if st.button("Rename", key="rename") and new_name.strip() != chosen:
        try:
            wb.stores.rename(me, chosen, new_name.strip())
            st.rerun()
        except WorkbenchError as exc:
            st.error(plain(str(exc)))
with model:
    embedding_tab(wb, me, summary)
with privacy:
    privacy_tab(wb, me, summary.store)
with policies:
    policies_tab(wb, me, summary.store)
with scans:
    scans_tab(wb, me, summary.store)
with terms:
    glossary_tab(wb, me, summary.store)
with export:
    st.write(
        "A Parquet file with every chunk, its vector and metadata; import it on any workbench without re-embedding."
    )
    if st.button("Prepare export", key="export"):
        exported = wb.stores.export(me, chosen)
        st.download_button(f"Download {plain(chosen)}.parquet ({exported.chunks:,} chunks)", exported.path.read_bytes(),
                           file_name=f"{chosen}.parquet", key="export_download")  # fmt: skip
with delete:
    st.warning(
        f"Deleting '{plain(chosen)}' removes its {summary.documents} documents and every chunk. It cannot be undone."
    )
    typed = st.text_input(f"Type {plain(chosen)} to confirm", key="delete_confirm")
    if st.button("Delete store", type="primary", disabled=typed != chosen, key="delete_store"):
        wb.stores.delete(me, chosen)
        st.rerun()

with st.expander("Import a store", icon=":material/move_to_inbox:"):
    upload = st.file_uploader("Store export (.parquet or .jsonl)", type=["parquet", "jsonl"], key="import_file")
    as_name = st.text_input("Name (empty: the exported store's)", key="import_name")
    if upload is not None and st.button("Import", key="import"):
        try:
            store = wb.stores.import_(me, upload.getvalue(), filename=upload.name, name=as_name.strip() or None)
            st.success(f"Imported '{plain(store.name)}'.")
        except WorkbenchError as exc:
            st.error(plain(str(exc)))
