"""Search playground: try retrieval settings on your stores, and compare two settings side by side.

Everything below the title is one fragment: typing a query or moving a slider reruns only the playground,
not the whole app with its sign-in check and menu.
"""

import time

import streamlit as st

from core.compare import Placed, highlight, placed, vanished
from core.errors import WorkbenchError
from core.options import Filters, Fusion, Mode, Reranker, SearchOptions

wb = st.session_state.get("wb")
if wb is None:  # nobody signed in (a page URL opened directly): show nothing
    st.stop()

st.title("Search")
summaries = wb.list_stores()
if not summaries:
    st.info("No store to search yet: create one on the Stores page, or ask an owner to share one.")
    st.stop()
EDITABLE = {s.store.name for s in summaries if s.role.rank >= 2}
RERANKERS = ["none", "mmr", "llm", *(f"litellm:{m}" for m in wb.models.names("rerank")), "cross-encoder"]


def filters_form(stores: list[str]) -> Filters:
    with st.expander("Filters", icon=":material/filter_alt:"):
        names = sorted({d.filename for name in stores for d in wb.documents(name)})
        chosen = st.multiselect("Only these documents", names, key="search_documents")
        types = sorted({n.rsplit(".", 1)[-1].lower() for n in names if "." in n})
        kinds = st.multiselect("Only these file types", types, key="search_types")
        first, last = st.columns(2)
        after = first.date_input("Uploaded from", value=None, key="search_after")
        before = last.date_input("Uploaded before", value=None, key="search_before")
        metadata = st.text_input("Metadata (key=value, comma-separated)", key="search_metadata", placeholder="team=hr")
        try:
            return Filters.from_form(chosen, kinds, after, before, metadata)
        except WorkbenchError as exc:
            st.error(str(exc))
            return Filters()


def settings(side: str, saved: SearchOptions, filters: Filters) -> SearchOptions:
    """One set of retrieval settings, starting from the store's saved ones; `side` keeps the two sides apart."""
    modes = [m.value for m in Mode]
    mode = st.segmented_control("Mode", modes, default=saved.mode.value, key=f"{side}_mode") or "hybrid"
    fusion, weight = saved.fusion.value, saved.weight
    if mode == "hybrid":
        fusions = [f.value for f in Fusion]
        fusion = st.radio("Fusion", fusions, fusions.index(fusion), horizontal=True, key=f"{side}_fusion") or fusion
        if fusion == "weighted":
            weight = st.slider("Vector share", 0.0, 1.0, saved.weight, 0.05, key=f"{side}_weight")
    top_k = st.slider("Results", 1, 50, saved.top_k, key=f"{side}_top_k")
    threshold = st.number_input("Minimum score (0: none)", 0.0, 100.0, 0.0, 0.05, key=f"{side}_threshold")
    index = RERANKERS.index(str(saved.rerank)) if str(saved.rerank) in RERANKERS else 0
    rerank = st.selectbox("Reranker", RERANKERS, index=index, key=f"{side}_rerank")
    if rerank == "cross-encoder":
        rerank = f"cross-encoder:{st.text_input('Cross-encoder folder', key=f'{side}_cross_encoder')}"
    return SearchOptions(top_k=top_k, mode=Mode(mode), fusion=Fusion(fusion), weight=weight,
                         threshold=threshold or None, rerank=Reranker.parse(rerank), filters=filters)  # fmt: skip


def card(item: Placed, side: str, query: str, *, compare: bool, several: bool) -> None:
    hit, change = item.hit, item.change
    mark = {"new": ":green-badge[new]", "same": ""}.get(
        change, f":{'blue' if 'up' in change else 'orange'}-badge[{change}]"
    )
    with st.container(border=True):
        st.markdown(f"**{item.rank}. {hit.filename}** · {hit.location or ''} · score {hit.score:.3f} {mark * compare}")
        st.caption((hit.breakdown.describe() if hit.breakdown else "") + f" · store {hit.store}" * several)
        st.html(f'<div style="font-size:0.9rem;white-space:pre-wrap">{highlight(hit.text, query)}</div>')
        if st.toggle("Neighbouring chunks", key=f"around_{side}_{item.rank}"):  # read only when asked for
            for chunk in wb.document_chunks(hit.store, hit.document_id):
                if abs(chunk.chunk_index - hit.chunk_index) == 1:
                    st.caption(f"Chunk {chunk.chunk_index + 1} · {chunk.location or ''}")
                    st.text(chunk.text)


@st.fragment
def playground() -> None:
    readable = [s.store.name for s in summaries]
    stores = st.multiselect("Stores", readable, default=readable[:1], key="search_stores")
    query = st.text_input("Query", key="search_query", placeholder="e.g. dividend per share approved by the board")
    compare = st.toggle("Compare two settings side by side", key="search_compare")
    filters = filters_form(stores)
    saved = wb.search_defaults(stores[0]) if stores else SearchOptions()
    columns = st.columns(2) if compare else [st.container()]
    sides, options = ["a", "b"][: len(columns)], {}
    for side, column in zip(sides, columns, strict=True):
        with column, st.expander(f"Settings {side.upper()}" if compare else "Settings", expanded=True):
            try:
                options[side] = settings(side, saved, filters)
            except WorkbenchError as exc:
                st.error(str(exc))
    label = (
        f"Save settings{' A' if compare else ''} as the default for '{stores[0]}' (chat uses them)" if stores else ""
    )
    if len(stores) == 1 and stores[0] in EDITABLE and "a" in options and st.button(label, key="save_defaults"):
        wb.set_search_defaults(stores[0], options["a"])
        st.toast(f"Saved as the default retrieval settings of '{stores[0]}'.")
    if not query.strip() or not stores or len(options) < len(sides):
        return
    results, took = {}, {}
    for side in sides:
        started = time.perf_counter()
        try:
            results[side] = wb.search(stores, query, options=options[side])
        except WorkbenchError as exc:
            st.error(str(exc))
            return
        took[side] = (time.perf_counter() - started) * 1000
    for side, column in zip(sides, columns, strict=True):
        other = results["b" if side == "a" else "a"] if compare else results[side]
        with column:
            st.caption(f"{len(results[side])} results in {took[side]:.0f} ms for “{query.strip()}”")
            if not results[side]:
                st.info("No match. Try other words, another mode, or a lower minimum score.")
            for item in placed(results[side], other):
                card(item, side, query, compare=compare, several=len(stores) > 1)
            if compare and (gone := vanished(results[side], other)):
                st.caption("Not in this list: " + ", ".join(f"{h.filename} {h.location or ''}".strip() for h in gone))


playground()
