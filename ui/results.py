"""How a search hit is drawn: a card with its file, place, score and why, the query's words marked."""

from __future__ import annotations

import streamlit as st

from core.compare import Placed
from core.records import Actor
from core.workbench import Workbench
from ui.html import highlight


def card(wb: Workbench, me: Actor, item: Placed, side: str, query: str, *, compare: bool, several: bool) -> None:
    hit, change = item.hit, item.change
    mark = {"new": ":green-badge[new]", "same": ""}.get(
        change, f":{'blue' if 'up' in change else 'orange'}-badge[{change}]"
    )
    with st.container(border=True):
        st.markdown(f"**{item.rank}. {hit.filename}** · {hit.location or ''} · score {hit.score:.3f} {mark * compare}")
        st.caption((hit.breakdown.describe() if hit.breakdown else "") + f" · store {hit.store}" * several)
        st.html(f'<div style="font-size:0.9rem;white-space:pre-wrap">{highlight(hit.text, query)}</div>')
        if hit.store and st.toggle("Neighbouring chunks", key=f"around_{side}_{item.rank}"):  # read when asked for
            for chunk in wb.documents.chunks(me, hit.store, hit.document_id):
                if abs(chunk.chunk_index - hit.chunk_index) == 1:
                    st.caption(f"Chunk {chunk.chunk_index + 1} · {chunk.location or ''}")
                    st.text(chunk.text)
