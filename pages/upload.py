"""Upload: drop files, watch how they are chunked as you move the settings, then ingest with progress."""

import logging
import time

import streamlit as st

from core.errors import WorkbenchError
from core.ingest import Progress, Upload
from core.options import ChunkSettings, IngestOptions, Strategy
from core.parsing import refusal
from core.records import IngestStatus, Role
from ui import preview_view, tables
from ui.html import plain
from ui.session import fail, signed_in

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


@st.fragment
def preview_panel() -> ChunkSettings:
    """Only this part reruns while the sliders move: parsing is cached, so a move only re-chunks."""
    started = time.perf_counter()
    chosen = st.selectbox("Preview", [f.name for f in files], key="preview_file")
    data = next(f for f in files if f.name == chosen).getvalue()
    left, middle, right = st.columns(3)
    strategies = [s.value for s in Strategy]
    strategy = left.selectbox("Strategy", strategies, index=strategies.index(store.chunk_strategy), key="preview_strategy")  # fmt: skip
    size = middle.slider("Chunk size", 50, 4000, store.chunk_size, step=10, key="preview_size")
    overlap = right.slider("Overlap", 0, 1000, min(store.chunk_overlap, size - 1), step=5, key="preview_overlap")
    try:
        settings = ChunkSettings(Strategy(strategy), size, overlap)
        result = wb.documents.preview(me, chosen, data, chunking=settings, embedding=store.embedding_model)
    except WorkbenchError as exc:
        st.error(str(exc))
        return store.chunking
    st.caption(
        f"Preview of {chosen} with {settings.strategy.value} chunks of {size} {settings.unit}, overlap {overlap}."
    )
    preview_view.show(result)
    log.info("preview of %s (%d chunks) drawn in %.0f ms", chosen, len(result.chunks), (time.perf_counter() - started) * 1000)  # fmt: skip
    return settings


settings = preview_panel()
st.divider()
count = f"{len(files)} file" + ("s" if len(files) > 1 else "")
if not st.button(f"Add {count} to '{store.name}' with these settings", type="primary", key="ingest"):
    st.stop()

st.session_state["ingest_running"] = True
cancel = st.empty()
cancel.button(
    "Cancel", key="cancel_ingest", help="Stops now; files already finished are kept, nothing half-written is."
)
overall = st.progress(0.0, text="Starting…")
bars = {i: st.progress(0.0, text=f.name) for i, f in enumerate(files)}


def show(event: Progress) -> None:
    overall.progress(event.overall, text=f"{event.file + 1} of {event.files} files · {event.message}")
    done = 1.0 if event.stage.final else min(0.95, event.batch / event.batches if event.batches else 0.05)
    bars[event.file].progress(done, text=event.message)


uploads = [Upload(f.name, f.getvalue()) for f in files]
try:
    results = wb.documents.ingest(me, store.name, uploads, options=IngestOptions(chunking=settings), on_progress=show)
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
