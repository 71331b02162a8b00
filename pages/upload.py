"""Upload: drop files, watch how they are chunked as you move the settings, then add them in the background and
watch them go in. A reload or another page loses nothing: the page shows running and recent uploads per store."""

import streamlit as st

from core.errors import WorkbenchError
from core.parsing import refusal
from core.records import Role
from ui import jobs_view
from ui.html import plain
from ui.session import fail, signed_in
from ui.upload_view import OCR, ingest_options, plan, preview_panel

wb, me = signed_in()
st.title("Upload")
editable = [s.store for s in wb.stores.visible(me) if s.role.rank >= Role.EDITOR.rank]
if not editable:
    st.info("You may add files to no store yet: create one on the Stores page, or ask an owner to make you an editor.")
    st.stop()

chosen_store = st.selectbox("Store", [s.name for s in editable], key="upload_store")
store = next(s for s in editable if s.name == chosen_store)
dropped = st.file_uploader(  # every type is taken, so that a refusal is said in words, not in a tooltip
    f"Drop files here: PDF, Word, PowerPoint, Excel, CSV, HTML, e-mail, text, images (up to {wb.settings.max_upload_mb} MB each)",
    accept_multiple_files=True,
    key="upload_files",
)
added = set(st.session_state.get("upload_added", ()))  # files of this drop already queued: not offered twice
files = [f for f in dropped or [] if not refusal(f.name) and (f.name, f.size) not in added]
if refused := [reason for f in dropped or [] if (reason := refusal(f.name))]:
    st.error(
        "\n\n".join(map(plain, refused)) + ("\n\nThe other files can be added." if files else ""),
        icon=":material/block:",
    )
if not files and not dropped:
    st.caption(
        f"'{plain(store.name)}' chunks with {store.chunk_strategy}, {store.chunk_size}/{store.chunk_overlap} by default."
    )
if files:
    ocr = st.columns(3)[0].selectbox(
        "Scanned pages read by OCR", list(OCR), format_func=OCR.__getitem__, key="upload_ocr"
    )
    reading = ocr or store.ocr or None  # this upload's choice, else the store's
    problems = {f.name: why for f in files if (why := wb.documents.check(me, f.name, f.getvalue(), ocr=reading))}
    preview_panel(wb, me, store, files, ocr)
    st.divider()
    insist = bool(problems) and st.checkbox(
        f"Add the {len(problems)} file(s) that failed the check anyway (they will be listed as failed)",
        key="upload_insist",
    )
    st.dataframe(plan(files, problems, store, insist=insist), hide_index=True, width="stretch", key="upload_plan")
    files = [f for f in files if insist or f.name not in problems]
    if not files:
        st.warning("No file passed the check: nothing to add.")
    count = f"{len(files)} file" + ("s" if len(files) > 1 else "")
    if files and st.button(f"Add {count} to '{plain(store.name)}'", type="primary", key="ingest"):
        try:
            st.session_state["upload_batch"] = jobs_view.add(wb, me, store, files, ingest_options(), ocr=ocr)
        except WorkbenchError as exc:
            fail(exc)
        st.session_state["upload_added"] = added | {(f.name, f.size) for f in files}
        st.rerun()
jobs_view.panel(wb, me, store)
