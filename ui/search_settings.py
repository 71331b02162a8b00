"""The search-settings widgets, one helper for every page that searches: each starts from the store's saved
settings and returns one SearchOptions record (the record the store saves and the conversation keeps)."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from core.errors import WorkbenchError
from core.options import MAX_CANDIDATES, MAX_TOP_K, Filters, Fusion, Mode, Reranker, SearchOptions, Unit
from core.parsing import supported_extensions
from core.ranking import DEFAULT_WEIGHT, fusion_weight_note
from core.records import Actor
from core.rewrite import rewrite_model
from core.workbench import Workbench
from core.workbench.documents import MAX_NAMES
from core.workbench.stores import StoreSummary
from ui.html import plain


def rerankers(wb: Workbench, me: Actor) -> list[str]:
    return ["none", "mmr", "llm", *(f"litellm:{m}" for m in wb.models.choices(me, "rerank")), "cross-encoder"]


def search_settings(
    wb: Workbench,
    me: Actor,
    saved: SearchOptions,
    key: str,
    *,
    filters: Filters | None = None,
    most: int = MAX_TOP_K,
    results: str = "Results",
    stores: Sequence[StoreSummary] = (),
) -> SearchOptions:
    """Every retrieval setting, starting from `saved`; `key` keeps two sets on one page apart."""
    modes = [m.value for m in Mode]
    mode = st.segmented_control("Mode", modes, default=saved.mode.value, key=f"{key}_mode") or saved.mode.value
    fusion, weight = saved.fusion.value, saved.weight
    if mode == Mode.HYBRID:
        fusions = [f.value for f in Fusion]
        fusion = st.radio("Fusion", fusions, fusions.index(fusion), horizontal=True, key=f"{key}_fusion") or fusion
        if fusion == Fusion.WEIGHTED:
            fitted = st.toggle(
                "Vector share fitted to the store",
                value=saved.weight is None,
                key=f"{key}_weight_fitted",
                help="Long documents (filings) get less weight on exact words than short ones (abstracts, notes).",
            )
            if fitted:
                weight = None
                for summary in stores:
                    st.caption(
                        f"{plain(summary.store.name)}: vector share {fusion_weight_note(summary.documents, summary.chunks)}"
                    )
            else:
                start = saved.weight if saved.weight is not None else DEFAULT_WEIGHT
                weight = st.slider("Vector share", 0.0, 1.0, start, 0.05, key=f"{key}_weight")
    units = {"Pages": Unit.PAGE.value, "Chunks": Unit.CHUNK.value}
    shown = next(label for label, value in units.items() if value == saved.unit.value)
    unit = units[st.radio("Results are", list(units), list(units).index(shown), horizontal=True, key=f"{key}_unit",
                          help="Pages: one result per page, its best window first. Chunks: every matching window.")]  # fmt: skip
    writer = rewrite_model(wb.models.default(me, "judge"), wb.models.default(me, "chat"))
    rewrite = st.toggle(
        "Also search the question in the documents' words",
        value=saved.rewrite and bool(writer),
        disabled=not writer,
        key=f"{key}_rewrite",
        help=f"{writer} rewrites the question (a derived measure becomes the lines a statement prints)."
        if writer
        else "Needs a chat model other than the bundled one (WORKBENCH_JUDGE_MODEL or WORKBENCH_CHAT_MODEL).",
    )
    exact = st.toggle(
        "Exact vector search",
        value=saved.exact,
        key=f"{key}_exact",
        help="Compare the question with every chunk instead of using the store's vector index (a large LanceDB "
        "store's index finds at least 95 of every 100 of the exact top 10, measured; exact is slower on such a "
        "store). Small stores and Milvus Lite search exactly either way; a Milvus server always uses its index.",
    )
    top_k = st.slider(results, 1, most, min(saved.top_k, most), key=f"{key}_top_k")
    threshold = st.number_input(
        "Minimum score (0: none)", 0.0, 100.0, saved.threshold or 0.0, 0.05, key=f"{key}_threshold"
    )
    candidates = st.number_input(
        "Candidates per list", 1, MAX_CANDIDATES, saved.candidates, 10, key=f"{key}_candidates"
    )
    floor = st.number_input(
        "Chat answers only when the best match reaches (0: the embedding model's default)",
        0.0,
        1.0,
        saved.min_relevance or 0.0,
        0.05,
        key=f"{key}_min_relevance",
        help="Below it, chat says the documents do not seem to say, without asking a model.",
    )
    choices = rerankers(wb, me)
    index = choices.index(str(saved.rerank)) if str(saved.rerank) in choices else 0
    rerank = st.selectbox("Reranker", choices, index=index, key=f"{key}_rerank")
    if rerank == "cross-encoder":
        rerank = f"cross-encoder:{st.text_input('Cross-encoder folder', key=f'{key}_cross_encoder')}"
    chosen = {
        "mode": mode,
        "fusion": fusion,
        "weight": weight,
        "unit": unit,
        "rewrite": rewrite,
        "exact": exact,
        "top_k": top_k,
        "threshold": threshold or None,
    }
    chosen |= {"candidates": int(candidates), "rerank": str(Reranker.parse(rerank)), "min_relevance": floor or None}
    return SearchOptions.from_settings({**saved.settings(), **chosen, "filters": filters or Filters()})


def filters_form(wb: Workbench, me: Actor, stores: list[str]) -> Filters:
    """The search page's filters: documents (the newest thousand names offered), types, dates, metadata."""
    newest = wb.documents.names(me, stores)  # the newest thousand, not the store's every name
    names = sorted({*newest, *st.session_state.get("search_documents", [])})
    chosen = st.multiselect("Only these documents", names, key="search_documents")
    if len(newest) >= MAX_NAMES:
        st.caption(f"The {MAX_NAMES:,} newest documents are offered here; 'Only this document' on a result adds any.")
    kinds = st.multiselect("Only these file types", [e.lstrip(".") for e in supported_extensions()], key="search_types")
    first, last = st.columns(2)
    after = first.date_input("Uploaded from", value=None, key="search_after")
    before = last.date_input("Uploaded before", value=None, key="search_before")
    metadata = st.text_input("Metadata (key=value, comma-separated)", key="search_metadata", placeholder="team=hr")
    try:
        return Filters.from_form(chosen, kinds, after, before, metadata)
    except WorkbenchError as exc:
        st.error(plain(str(exc)))
        return Filters()
