"""How the upload page shows a chunk preview: counts, warnings, a size chart, and the chunks with their overlaps."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from core.preview import Preview
from ui.html import marked_html


def show(result: Preview) -> None:
    a, b, c, d = st.columns(4)
    a.metric("Chunks", f"{len(result.chunks):,}")
    b.metric("Pages", result.parsed.page_count or "–")
    c.metric("Median size", f"{sorted(result.sizes)[len(result.sizes) // 2] if result.sizes else 0:,} chars")
    d.metric("Re-chunked in", f"{result.chunk_ms:.0f} ms")
    for warning in result.parsed.warnings:
        st.warning(warning)
    if result.over_window:
        st.warning(
            f"{result.over_window} chunks are longer than the embedding model reads; their ends are not embedded."
        )
    size = alt.X(
        "characters:Q", bin=alt.Bin(maxbins=30, minstep=10), title="chunk size (characters)", axis=alt.Axis(format="d")
    )
    chart = (
        alt.Chart(pd.DataFrame({"characters": result.sizes})).mark_bar().encode(size, alt.Y("count()", title="chunks"))
    )
    st.altair_chart(chart.properties(height=140), width="stretch")  # no key: a keyed chart keeps its first data
    with st.container(height=420, key="preview_text"):
        st.html(marked_html(result))
