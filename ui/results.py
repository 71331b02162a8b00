"""How a search hit is drawn: a card with its file, place, score and why, the query's words marked."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from core.compare import Placed
from core.records import Actor, Hit
from core.workbench import Workbench
from ui.chunk_view import focus_on
from ui.html import highlight, plain


def scope(filename: str) -> None:
    """Narrow the search page's filters to one document (a callback: it runs before the filter widget is drawn)."""
    st.session_state["search_documents"] = [filename]


def card(wb: Workbench, me: Actor, item: Placed, side: str, query: str, *, compare: bool, several: bool) -> None:
    hit, change = item.hit, item.change
    mark = {"new": ":green-badge[new]", "same": ""}.get(
        change, f":{'blue' if 'up' in change else 'orange'}-badge[{change}]"
    )
    with st.container(border=True):
        place = f" · {plain(hit.location)}" if hit.location else ""
        st.markdown(f"**{item.rank}\\. {plain(hit.filename)}**{place} · score {hit.score:.3f} {mark * compare}")
        windows = f" · best of {hit.windows} matching passages on this page" if hit.windows > 1 else ""
        st.caption(
            plain((hit.breakdown.describe() if hit.breakdown else "") + windows + f" · store {hit.store}" * several)
        )
        if hit.caution:  # the store's injection check: shown to the analyst, kept from every model when withheld
            kept = "Withheld from models" if hit.withheld else "Flagged"
            st.warning(f"{kept} by the store's injection check: {plain(hit.caution)}", icon=":material/gpp_maybe:")
        st.html(f'<div style="font-size:0.9rem;white-space:pre-wrap">{highlight(hit.text, query)}</div>')
        if hit.header:
            st.caption(f"Searched with its context: {plain(hit.header)}")
        scoped, opened, _ = st.columns([1, 1, 2])
        scoped.button(
            "Only this document",
            key=f"scope_{side}_{item.rank}",
            icon=":material/filter_alt:",
            on_click=scope,
            args=(hit.filename,),
            help="Search this document alone (the Filters above show it; clear them to search everything again).",
        )
        if hit.store and opened.button(
            "Open in Documents",
            key=f"open_{side}_{item.rank}",
            icon=":material/open_in_new:",
            help="The chunk among its document's chunks, to check, disable or edit it.",
        ):
            focus_on(hit.store, hit.document_id, hit.chunk_index)
        pdf = bool(hit.store and hit.page and hit.filename.lower().endswith(".pdf"))
        if pdf and hit.store and hit.page and st.toggle("Show the page", key=f"page_{side}_{item.rank}"):
            image = wb.documents.page_image(me, hit.store, hit.document_id, hit.page, passage=hit.text)
            if image:
                st.image(image, caption=f"{plain(hit.filename)}, page {hit.page}: the passage is outlined")
        if hit.store and st.toggle("Neighbouring chunks", key=f"around_{side}_{item.rank}"):  # read when asked for
            for chunk in wb.documents.chunks(me, hit.store, hit.document_id):
                if abs(chunk.chunk_index - hit.chunk_index) == 1:
                    st.caption(f"Chunk {chunk.chunk_index + 1} · {plain(chunk.location or '')}")
                    st.text(chunk.text)


def missing(gone: Sequence[Hit]) -> None:
    """Under a compare column: the other side's results this side does not have."""
    st.caption("Not in this list: " + ", ".join(plain(f"{h.filename} {h.location or ''}".strip()) for h in gone))
