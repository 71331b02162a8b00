"""The Upload page's preview (whose settings go to one file, its type, or every file) and its plan of what
happens to each file."""

from __future__ import annotations

import logging
import time
from typing import Any

import pandas as pd
import streamlit as st

from core.errors import WorkbenchError
from core.options import ChunkSettings, IngestOptions, Strategy
from core.records import Actor, Store
from core.workbench import Workbench
from ui import preview_view
from ui.html import plain

log = logging.getLogger("pages.upload")
EVERY = "*"  # the key of settings for every file


def choices() -> dict[str, ChunkSettings]:
    """Chunk settings chosen so far, by file name, by type (".pdf") or for every file (EVERY)."""
    return st.session_state.setdefault("chunking_choices", {})


def ingest_options() -> IngestOptions:
    chosen = choices()
    return IngestOptions(chunking=chosen.get(EVERY), chunking_for={k: v for k, v in chosen.items() if k != EVERY})


OCR = {"": "the store's choice", "auto": "pages without text (auto)", "always": "every page", "never": "never"}


@st.fragment
def preview_panel(wb: Workbench, me: Actor, store: Store, files: list[Any], ocr: str = "") -> None:
    """Only this part reruns while the sliders move: parsing is cached, so a move only re-chunks."""
    started = time.perf_counter()
    chosen = st.selectbox("Preview", [f.name for f in files], key="preview_file")
    data = next(f for f in files if f.name == chosen).getvalue()
    kind = "." + chosen.rsplit(".", 1)[-1].lower() if "." in chosen else ""
    targets = {f"only {plain(chosen)}": chosen, **({f"every {kind} file": kind} if kind else {}), "every file": EVERY}
    current = choices().get(chosen) or choices().get(kind) or choices().get(EVERY) or store.chunking
    left, middle, right = st.columns(3)
    strategies = [s.value for s in Strategy]
    strategy = left.selectbox("Strategy", strategies, index=strategies.index(current.strategy.value), key=f"preview_strategy_{chosen}")  # fmt: skip
    size = middle.slider("Chunk size", 50, 4000, current.size, step=10, key=f"preview_size_{chosen}")
    overlap = right.slider("Overlap", 0, 1000, min(current.overlap, size - 1), step=5, key=f"preview_overlap_{chosen}")
    target = st.radio("These settings are for", list(targets), horizontal=True, key=f"preview_apply_{chosen}")
    try:
        settings = ChunkSettings(Strategy(strategy), size, overlap)
        result = wb.documents.preview(
            me, chosen, data, chunking=settings, embedding=store.embedding_model, ocr=ocr or store.ocr or None
        )
    except WorkbenchError as exc:
        st.error(plain(str(exc)))
        return
    if settings != current or targets[target] != chosen:
        choices()[targets[target]] = settings
    st.caption(
        f"Preview of {plain(chosen)} with {settings.strategy.value} chunks of {size} {settings.unit}, overlap {overlap}."
    )
    preview_view.show(result)
    log.info("preview of %s (%d chunks) drawn in %.0f ms", chosen, len(result.chunks), (time.perf_counter() - started) * 1000)  # fmt: skip


def plan(files: list[Any], problems: dict[str, str], store: Store, *, insist: bool) -> pd.DataFrame:
    """What Add will do with each file: its check, and the chunk settings it will get and from where."""
    chosen, rows = choices(), []
    for f in files:
        kind = "." + f.name.rsplit(".", 1)[-1].lower() if "." in f.name else ""
        key = next((k for k in (f.name, kind, EVERY) if k in chosen), None)
        settings = chosen[key] if key else store.chunking
        where = {f.name: "this file", kind: f"every {kind} file", EVERY: "every file", None: "store default"}[key]
        problem = problems.get(f.name)
        rows.append(
            {
                "File": f.name,
                "Check": problem or "ready",
                "Will be": ("added anyway" if insist else "left out") if problem else "added",
                "Chunking": f"{settings.strategy.value}, {settings.size}/{settings.overlap} {settings.unit} ({where})",
            }
        )
    return pd.DataFrame(rows)
