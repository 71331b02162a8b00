"""Upload: drop files, watch how they are chunked as you move the settings, then ingest with progress."""

import logging
import time

import streamlit as st

from core.errors import WorkbenchError
from core.ingest import Progress, Upload
from core.parsing import refusal
from core.records import IngestStatus, Role
from ui import tables
from ui.html import plain
from ui.session import fail, signed_in
from ui.upload_view import ingest_options, plan, preview_panel

log = logging.getLogger("pages.upload")
wb, me = signed_in()
st.title("Upload")
editable = [s.store for s in wb.stores.visible(me) if s.role.rank >= Role.EDITOR.rank]
if not editable:
    st.info("You may add files to no store yet: create one on the Stores page, or ask an owner to make you an editor.")
    st.stop()
if st.session_state.pop("ingest_running", False):  # the last ingest was stopped midway (Cancel, or leaving)
    st.warning("The upload was cancelled. Files that had finished were kept; nothing half-written remains.")

chosen_store = st.selectbox("Store", [s.name for s in editable], key="upload_store")
store = next(s for s in editable if s.name == chosen_store)
dropped = st.file_uploader(  # every type is taken, so that a refusal is said in words, not in a tooltip
    f"Drop files here: PDF, Word, PowerPoint, Excel, CSV, HTML, e-mail, text, images (up to {wb.settings.max_upload_mb} MB each)",
    accept_multiple_files=True,
    key="upload_files",
)
files = [f for f in dropped or [] if not refusal(f.name)]
if refused := [reason for f in dropped or [] if (reason := refusal(f.name))]:
    st.error(
        "\n\n".join(map(plain, refused)) + ("\n\nThe other files can be added." if files else ""),
        icon=":material/block:",
    )
if not files:
    st.caption(
        f"'{store.name}' chunks with {store.chunk_strategy}, {store.chunk_size}/{store.chunk_overlap} by default."
    )
    st.stop()


problems = {f.name: reason for f in files if (reason := wb.documents.check(me, f.name, f.getvalue()))}
preview_panel(wb, me, store, files)
st.divider()
insist = bool(problems) and st.checkbox(
    f"Add the {len(problems)} file(s) that failed the check anyway (they will be listed as failed)", key="upload_insist"
)
st.dataframe(plan(files, problems, store, insist=insist), hide_index=True, width="stretch", key="upload_plan")
files = [f for f in files if insist or f.name not in problems]
if not files:
    st.warning("No file passed the check: nothing to add.")
    st.stop()
count = f"{len(files)} file" + ("s" if len(files) > 1 else "")
if not st.button(f"Add {count} to '{store.name}'", type="primary", key="ingest"):
    st.stop()

st.session_state["ingest_running"] = True
cancel = st.empty()
cancel.button(
    "Cancel", key="cancel_ingest", help="Stops now; files already finished are kept, nothing half-written is."
)
overall = st.progress(0.0, text="Starting…")
bars = {i: st.progress(0.0, text=f.name) for i, f in enumerate(files)}


began = time.perf_counter()


def show(event: Progress) -> None:
    elapsed = time.perf_counter() - began  # the time left, from the rate measured so far
    left = f" · about {elapsed * (1 - event.overall) / event.overall:,.0f} s left" if 0.02 < event.overall < 1 else ""
    overall.progress(event.overall, text=f"{event.file + 1} of {event.files} files · {event.message}{left}")
    done = 1.0 if event.stage.final else min(0.95, event.batch / event.batches if event.batches else 0.05)
    bars[event.file].progress(done, text=event.message)


uploads = [Upload(f.name, f.getvalue()) for f in files]
try:
    results = wb.documents.ingest(me, store.name, uploads, options=ingest_options(), on_progress=show)
except WorkbenchError as exc:
    st.session_state.pop("ingest_running", None)
    fail(exc)
st.session_state.pop("ingest_running", None)
cancel.empty()
overall.progress(1.0, text="Done")
tally = {status: sum(r.status is status for r in results) for status in IngestStatus}
summary = f"{tally[IngestStatus.WRITTEN]} added, {tally[IngestStatus.DUPLICATE]} already there, {tally[IngestStatus.FAILED]} failed."
(st.warning if tally[IngestStatus.FAILED] else st.success)(summary)
st.dataframe(tables.ingest_results(results), hide_index=True, width="stretch", key="ingest_results")
