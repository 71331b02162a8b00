"""A document's chunks: searchable, filterable by place, paged; editors disable, enable and edit them."""

from __future__ import annotations

import streamlit as st

from core.errors import WorkbenchError
from core.records import Actor, Chunk, ChunkChange, Document
from core.workbench import Workbench
from ui.html import plain

PER_PAGE = 20
SHOW = {"All chunks": None, "Disabled": "disabled", "Edited": "edited"}


def focus_on(store: str, document_id: str, chunk_index: int) -> None:
    """Open the Documents page on one chunk (a search hit's or a citation's)."""
    st.session_state["documents_focus"] = {"store": store, "document": document_id, "chunk": chunk_index}
    st.switch_page("pages/documents.py")


def chunk_browser(wb: Workbench, me: Actor, store: str, document: Document, *, editable: bool) -> None:
    chunks = wb.documents.chunks(me, store, document.id)
    changes = wb.documents.changes(me, store, document.id)
    focus = st.session_state.pop("chunks_focus", None)  # once: then the analyst pages and filters freely
    focused = focus[1] if focus and focus[0] == document.id else None
    find, place, show = st.columns([2, 2, 1])
    needle = find.text_input("Find in this document's chunks", key="chunks_find", placeholder="words or figures")
    places = list(dict.fromkeys(c.location or "no location" for c in chunks))
    where = place.multiselect("Only at", places, key="chunks_places", placeholder="every page, paragraph or sheet")
    wanted = SHOW[show.selectbox("Show", list(SHOW), key="chunks_show")]
    matching = [c for c in chunks if _matches(c, needle, where, changes.get(c.chunk_index), wanted)]
    pages = max(1, -(-len(matching) // PER_PAGE))
    if (
        focused is not None
        and (at := next((i for i, c in enumerate(matching) if c.chunk_index == focused), None)) is not None
    ):
        st.session_state["chunks_page"] = at // PER_PAGE + 1
    st.session_state["chunks_page"] = min(st.session_state.get("chunks_page", 1), pages)
    number = st.number_input(f"Page of chunks (of {pages})", 1, pages, key="chunks_page") if pages > 1 else 1
    first = (int(number) - 1) * PER_PAGE
    st.caption(
        f"{len(matching):,} of {len(chunks):,} chunks match · showing {first + 1 if matching else 0}–{min(first + PER_PAGE, len(matching))}"
    )
    for chunk in matching[first : first + PER_PAGE]:
        _chunk(
            wb, me, store, chunk, changes.get(chunk.chunk_index), editable=editable, open_=chunk.chunk_index == focused
        )


def _matches(chunk: Chunk, needle: str, places: list[str], change: ChunkChange | None, wanted: str | None) -> bool:
    if needle.strip() and needle.strip().lower() not in chunk.content.lower():
        return False
    if places and (chunk.location or "no location") not in places:
        return False
    return wanted is None or bool(change and getattr(change, wanted))


def _chunk(
    wb: Workbench, me: Actor, store: str, chunk: Chunk, change: ChunkChange | None, *, editable: bool, open_: bool
) -> None:
    index = chunk.chunk_index
    marks = (" · :red[disabled]" if change and change.disabled else "") + (
        " · :blue[edited]" if change and change.edited else ""
    )
    label = f"Chunk {index + 1} · {plain(chunk.location or 'no location')} · {len(chunk.text):,} characters{marks}"
    with st.expander(label, expanded=open_):
        st.text(chunk.content)
        if change:
            state = "Disabled: searches and chat leave it out" if change.disabled else "Retrieved"
            st.caption(
                f"{state}{' · text edited' if change.edited else ''} · last changed by {change.changed_by} on {change.changed_at:%Y-%m-%d %H:%M} UTC"
            )
        if not editable:
            return
        disabled = bool(change and change.disabled)
        if st.button(
            "Enable this chunk" if disabled else "Disable this chunk",
            key=f"toggle_chunk_{index}",
            icon=":material/block:",
        ):
            _apply(lambda: wb.documents.set_chunk_enabled(me, store, chunk.document_id, index, enabled=disabled), chunk)
        with st.form(f"edit_chunk_{index}", border=False):
            text = st.text_area("Text", chunk.text, height=160, key=f"chunk_text_{index}")
            if st.form_submit_button("Save and embed again", icon=":material/save:"):
                _apply(lambda: wb.documents.edit_chunk(me, store, chunk.document_id, index, text), chunk)


def _apply(change: object, chunk: Chunk) -> None:
    try:
        change()  # type: ignore[operator]
    except WorkbenchError as exc:
        st.error(plain(str(exc)))
    else:
        st.session_state["chunks_focus"] = (chunk.document_id, chunk.chunk_index)  # it stays open, to see the change
        st.rerun()
