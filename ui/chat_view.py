"""How the chat draws a message: the answer, its state, the sources it cites (opening on their chunk) and the
ones it did not, and thumbs up or down."""

from __future__ import annotations

import re
from typing import NoReturn

import streamlit as st

from core.errors import WorkbenchError
from core.options import AnswerMode, AskOptions, SearchOptions
from core.rag import resolve_mode
from core.records import Actor, ChatMessage, Citation, Conversation, MessageStatus
from core.workbench import Workbench
from core.workbench.chat import Running
from ui.chunk_view import focus_on
from ui.html import answer_markdown, plain
from ui.search_settings import search_settings
from ui.session import fail

REFRESH_S = 0.3  # how often an answer being written is redrawn
STOP_S = 10.0  # how long Stop waits for the answer to be saved before the page is drawn again
ANSWERED_BY = {
    "extractive": "Quoted from the documents, word for word.",
    "generative": "Written by {model}; every figure and statement is checked against the sources.",
}
MODES = {
    AnswerMode.EXTRACTIVE: "Quote the documents (exact words, with citations)",
    AnswerMode.GENERATIVE: "Written by the model (checked against the sources)",
}


def answering(job: Running, stores: list[str]) -> NoReturn:
    """An answer being written: the question, then the answer so far, redrawn until it is saved. Leaving the page
    ends only this drawing: the answer goes on, and this page picks it up again on return."""
    with st.chat_message("user"):
        st.markdown(plain(job.answer.question))
    with st.chat_message("assistant"):
        if st.button("Stop", icon=":material/stop_circle:", key="stop_answer", help="Stop the answer; what came so far is kept."):  # fmt: skip
            job.stop()
            job.done.wait(timeout=STOP_S)
            st.rerun()
        live = st.empty()
        while not job.done.is_set():
            answer = job.answer
            with live.container():
                if answer.retrieved:
                    dropped = f" ({answer.sources_dropped} more did not fit the model)" * bool(answer.sources_dropped)
                    st.caption(f"Searched {plain(', '.join(stores))}: {len(answer.retrieved)} sources in {answer.retrieval_ms:.0f} ms{dropped}")  # fmt: skip
                else:
                    st.caption(f"Searching {plain(', '.join(stores))}…")
                st.markdown(answer_markdown(answer.text) + " ▌")
            job.done.wait(timeout=REFRESH_S)
    st.rerun()  # saved: the page shows it from the conversation, with its check and sources


def conversation_list(conversations: list[Conversation], current: str | None) -> None:
    st.subheader("Conversations")
    if st.button("New chat", icon=":material/add:", key="new_chat"):
        st.session_state.pop("conversation", None)
        st.rerun()
    for c in conversations[:20]:
        if st.button(c.title, key=f"open_{c.id}", type="primary" if c.id == current else "tertiary"):
            st.session_state["conversation"] = c.id
            st.rerun()


def answer_settings(
    wb: Workbench, me: Actor, found: Conversation | None, store: str, current: str | None
) -> AskOptions:
    """How to answer: quoted or written (and by which model), and the search settings, starting from the
    conversation's own or the store's saved ones."""
    with st.expander("Answer settings"):
        models = wb.models.choices(me, "chat")  # the default first
        model = st.selectbox("Model", models, key="chat_model")
        auto = resolve_mode(AnswerMode.AUTO, wb.models.target(me, model))
        modes = list(MODES)
        mode = st.radio(  # keyed by the model's own default: choosing another kind of model resets the choice
            "Answer", modes, modes.index(auto), format_func=MODES.__getitem__, key=f"chat_answer_{auto.value}"
        )
        if mode is AnswerMode.GENERATIVE and auto is AnswerMode.EXTRACTIVE:
            st.caption("The bundled model is a small draft model (135M parameters): it often invents figures. "
                       "Its answers are checked against the sources; read the warnings.")  # fmt: skip
        temperature = st.slider("Temperature", 0.0, 1.0, AskOptions().temperature, 0.05, key="chat_temperature")
        system = st.text_area("Instructions (empty: the default)", key="chat_system")
        kept = SearchOptions.from_settings(found.options) if found and found.options else None
        st.caption(
            "Search: this conversation's settings." if kept else f"Search: the saved settings of '{plain(store)}'."
        )
        try:
            start = kept or wb.stores.search_defaults(me, store)
            search = search_settings(
                wb, me, start, f"chat_{current[:8]}" if current else "chat", most=20, results="Sources"
            )
        except WorkbenchError as exc:
            fail(exc)
    return AskOptions(model=model, mode=mode, temperature=temperature, system_prompt=system or None, search=search)


def _only(filename: str) -> None:
    """Scope the next questions to one document (a callback: it runs before the document filter is drawn)."""
    st.session_state["chat_documents"] = [filename]


def sources(wb: Workbench, me: Actor, cited: list[Citation], retrieved: list[Citation], readable: list[str]) -> None:
    numbers = {c.n for c in cited}
    for c in cited:
        how = " (matched by wording)" if c.matched else ""
        how += " (does not hold what cites it)" if c.supported is False else ""
        with st.expander(f"\\[{c.n}\\] {plain(c.filename)} · {plain(c.location or '')} · score {c.score:.2f}{how}"):
            if c.store not in readable:
                st.text(c.snippet + "…")
                continue
            around = [
                k for k in wb.documents.chunks(me, c.store, c.document_id) if abs(k.chunk_index - c.chunk_index) <= 1
            ]
            passage = next((k.text for k in around if k.chunk_index == c.chunk_index), c.snippet)
            image = wb.documents.page_image(me, c.store, c.document_id, c.page, passage=passage) if c.page else None
            page, text = st.columns([3, 2]) if image else (None, st.container())
            if page is not None and image is not None:
                page.image(image, caption=f"{plain(c.filename)}, page {c.page}: the cited passage is outlined")
            with text:
                st.button("Ask only this document", key=f"only_{c.document_id}_{c.n}_{c.chunk_index}",
                          icon=":material/filter_alt:", on_click=_only, args=(c.filename,))  # fmt: skip
                if st.button("Open in Documents", key=f"open_{c.document_id}_{c.n}_{c.chunk_index}",
                             icon=":material/open_in_new:"):  # fmt: skip
                    focus_on(c.store, c.document_id, c.chunk_index)
                for chunk in around:
                    mark = " (the cited one)" if chunk.chunk_index == c.chunk_index else ""
                    st.caption(f"Chunk {chunk.chunk_index + 1} · {plain(chunk.location or '')}{mark}")
                    st.text(chunk.text)
    others = [c for c in retrieved if c.n not in numbers]
    if others:
        st.caption(
            "Also retrieved, not cited: "
            + "; ".join(plain(f"[{c.n}] {c.filename} {c.location or ''}".strip()) for c in others)
        )


def marked(shown: ChatMessage) -> str:
    """The answer with what its sources do not hold marked: figures highlighted, a citation whose source does
    not hold its sentence labelled as such, a statement no source holds flagged."""
    if shown.role != "assistant":
        return plain(shown.content)  # a question is shown as typed
    text, check = answer_markdown(shown.content), shown.grounding
    if check is None:
        return text
    for work in check.computed:  # a figure the answer derives, its working redone: marked as computed
        if work.ok:
            marked_figure = f":blue-background[{plain(work.figure)}]"  # escaped: a "$" would start LaTeX
            pattern = re.compile(rf"(?<![\w.,]){re.escape(work.figure)}(?![\w])")
            text = pattern.sub(lambda _match: marked_figure, text, count=1)  # noqa: B023 (used at once)
    if check.grounded:
        return text
    for figure in check.figures:
        text = re.sub(rf"(?<![\w.,]){re.escape(figure)}(?![\w])", f":orange-background[{figure}]", text)
    for cited in check.citations:
        if not cited.supported:
            text = text.replace(f"[{cited.n}]", f"[{cited.n}] :orange-badge[not in source {cited.n}]")
    for sentence in check.sentences:  # flagged where it starts (its end may be cut short in the record)
        start = sentence[:40]
        if start and start in text:
            text = text.replace(start, ":orange-badge[no source holds this] " + start, 1)
    return text


def working(shown: ChatMessage) -> None:
    """Under the answer: each figure it computes, the operation and its cited operands, and whether it follows."""
    done = [w for w in shown.grounding.computed if w.ok] if shown.grounding is not None else []
    for work in done:
        cited = ", ".join(f"[{n}]" for n in work.sources)
        st.markdown(
            f":blue-badge[:material/calculate: computed] **{plain(work.figure)}** from {cited}: {plain(work.working)}"
        )


def message(wb: Workbench, me: Actor, shown: ChatMessage, readable: list[str]) -> None:
    with st.chat_message(shown.role):
        if shown.role == "assistant" and shown.grounding is not None and not shown.grounding.grounded:
            st.warning(shown.grounding.summary(), icon=":material/report:")
        st.markdown(marked(shown) or "_(no answer)_")
        if shown.role != "assistant":
            return
        working(shown)
        if (
            shown.mode and shown.status is not MessageStatus.REFUSED
        ):  # a refusal quotes nothing and is written by no model
            st.caption(ANSWERED_BY.get(shown.mode, "").format(model=shown.model))
        if shown.status is MessageStatus.STOPPED:
            st.caption("Stopped before the end.")
        if shown.status is MessageStatus.FAILED:
            st.error(plain(shown.error or "The model failed."))
        sources(wb, me, list(shown.citations), list(shown.sources), readable)
        rating = st.feedback("thumbs", key=f"feedback_{shown.id}")
        if rating is not None and (1 if rating == 1 else -1) != shown.feedback:
            wb.chat.feedback(me, shown.id, rating=1 if rating == 1 else -1)
