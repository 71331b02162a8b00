"""How the chat draws a message: the answer, its state, the sources it cites (opening on their chunk) and the
ones it did not, and thumbs up or down."""

from __future__ import annotations

import streamlit as st

from core.records import Actor, ChatMessage, Citation, MessageStatus
from core.workbench import Workbench


def sources(wb: Workbench, me: Actor, cited: list[Citation], retrieved: list[Citation], readable: list[str]) -> None:
    numbers = {c.n for c in cited}
    for c in cited:
        how = " (matched by wording)" if c.matched else ""
        with st.expander(f"[{c.n}] {c.filename} · {c.location or ''} · score {c.score:.2f}{how}"):
            st.write(c.snippet + "…")
            if c.store in readable:
                for chunk in wb.documents.chunks(me, c.store, c.document_id):
                    if abs(chunk.chunk_index - c.chunk_index) <= 1:
                        st.caption(
                            f"Chunk {chunk.chunk_index + 1} · {chunk.location or ''}"
                            + (" (the cited one)" if chunk.chunk_index == c.chunk_index else "")
                        )
                        st.text(chunk.text)
    others = [c for c in retrieved if c.n not in numbers]
    if others:
        st.caption(
            "Also retrieved, not cited: "
            + "; ".join(f"[{c.n}] {c.filename} {c.location or ''}".strip() for c in others)
        )


def message(wb: Workbench, me: Actor, shown: ChatMessage, readable: list[str]) -> None:
    with st.chat_message(shown.role):
        st.markdown(shown.content or "_(no answer)_")
        if shown.role != "assistant":
            return
        if shown.status is MessageStatus.STOPPED:
            st.caption("Stopped before the end.")
        if shown.status is MessageStatus.FAILED:
            st.error(shown.error or "The model failed.")
        sources(wb, me, list(shown.citations), list(shown.sources), readable)
        rating = st.feedback("thumbs", key=f"feedback_{shown.id}")
        if rating is not None and (1 if rating == 1 else -1) != shown.feedback:
            wb.chat.feedback(me, shown.id, rating=1 if rating == 1 else -1)
