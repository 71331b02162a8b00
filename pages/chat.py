"""Chat: answers from your stores, streamed, with the sources they cite; conversations kept and exportable."""

import threading
from collections.abc import Iterator

import streamlit as st

from core.errors import WorkbenchError
from core.options import AskOptions, Mode, Reranker, SearchOptions
from core.records import ChatMessage, Citation, MessageStatus

wb = st.session_state.get("wb")
if wb is None:  # nobody signed in (a page URL opened directly): show nothing
    st.stop()

readable = [s.store.name for s in wb.list_stores()]
if not readable:
    st.title("Chat")
    st.info("No store to chat with yet: create one on the Stores page, or ask an owner to share one.")
    st.stop()

if (answering := st.session_state.pop("answering", None)) is not None:
    answering.wait(timeout=5)  # after a Stop click this run starts while the last one still saves its answer
conversations = wb.conversations()
current = st.session_state.get("conversation")
if current not in {c.id for c in conversations}:
    current = None
with st.sidebar:
    st.subheader("Conversations")
    if st.button("New chat", icon=":material/add:", key="new_chat"):
        st.session_state.pop("conversation", None)
        st.rerun()
    for c in conversations[:20]:
        if st.button(c.title, key=f"open_{c.id}", type="primary" if c.id == current else "tertiary"):
            st.session_state["conversation"] = c.id
            st.rerun()
    saved = (
        wb.search_defaults(
            ((found_stores := next((c.stores for c in conversations if c.id == current), ())) or readable)[0]
        )
        if readable
        else SearchOptions()
    )
    with st.expander("Answer settings"):
        models = wb.models.names("chat")
        model = st.selectbox(
            "Model",
            models,
            index=models.index(wb.settings.chat_model) if wb.settings.chat_model in models else 0,
            key="chat_model",
        )
        temperature = st.slider("Temperature", 0.0, 1.0, AskOptions().temperature, 0.05, key="chat_temperature")
        top_k = st.slider("Sources", 1, 20, min(saved.top_k, 20), key="chat_top_k")
        modes = [m.value for m in Mode]
        mode = st.selectbox("Search mode", modes, index=modes.index(saved.mode.value), key="chat_mode")
        rerankers = ["none", "mmr", "llm"]
        rerank = st.selectbox(
            "Reranker",
            rerankers,
            index=rerankers.index(str(saved.rerank)) if str(saved.rerank) in rerankers else 0,
            key="chat_rerank",
        )
        system = st.text_area("Instructions (empty: the default)", key="chat_system")

found, messages = wb.conversation(current) if current else (None, [])
st.title(found.title if found else "Chat")
default = [s for s in (found.stores if found else readable[:1]) if s in readable] or readable[:1]
stores = st.multiselect("Stores", readable, default=default, key=f"chat_stores_{current}")
if found:
    left, middle, right = st.columns([3, 1, 1])
    title = left.text_input("Title", found.title, key=f"title_{current}", label_visibility="collapsed")
    if title.strip() and title != found.title:
        wb.rename_conversation(current, title)
    middle.download_button("Export", wb.export_conversation(current), file_name="conversation.md", key="export_chat")
    if right.button("Delete", key="delete_chat"):
        wb.delete_conversation(current)
        st.session_state.pop("conversation", None)
        st.rerun()


def sources(cited: list[Citation], retrieved: list[Citation]) -> None:
    numbers = {c.n for c in cited}
    for c in cited:
        how = " (matched by wording)" if c.matched else ""
        with st.expander(f"[{c.n}] {c.filename} · {c.location or ''} · score {c.score:.2f}{how}"):
            st.write(c.snippet + "…")
            if c.store in readable:
                for chunk in wb.document_chunks(c.store, c.document_id):
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


def show(message: ChatMessage) -> None:
    with st.chat_message(message.role):
        st.markdown(message.content or "_(no answer)_")
        if message.role != "assistant":
            return
        if message.status is MessageStatus.STOPPED:
            st.caption("Stopped before the end.")
        if message.status is MessageStatus.FAILED:
            st.error(message.error or "The model failed.")
        sources(list(message.citations), list(message.sources))
        rating = st.feedback("thumbs", key=f"feedback_{message.id}")
        if rating is not None and (1 if rating == 1 else -1) != message.feedback:
            wb.feedback(message.id, rating=1 if rating == 1 else -1)


for message in messages:
    show(message)
last_question = next((m.content for m in reversed(messages) if m.role == "user"), None)
again = last_question is not None and st.button(
    "Regenerate the last answer", icon=":material/refresh:", key="regenerate"
)
prompt = st.chat_input("Ask about your documents", key="chat_input") or (last_question if again else None)
if not prompt or not stores:
    st.stop()

options = AskOptions(model=model, temperature=temperature, system_prompt=system or None,
                     search=SearchOptions(top_k=top_k, mode=Mode(mode), rerank=Reranker.parse(rerank)))  # fmt: skip
with st.chat_message("user"):
    st.markdown(prompt)
with st.chat_message("assistant"):
    status = st.status(f"Searching {len(stores)} store{'s' if len(stores) > 1 else ''}…", expanded=False)
    # Any click reruns the page, which ends the stream here; core then keeps the partial answer as "stopped".
    st.button(
        "Stop", icon=":material/stop_circle:", key="stop_answer", help="Stop the answer; what came so far is kept."
    )
    st.session_state["answering"] = settled = threading.Event()
    try:
        stream, answer = wb.ask(stores, prompt, conversation=current, options=options)

        def told() -> Iterator[str]:
            try:
                for n, piece in enumerate(stream):
                    if n == 0:  # the conversation exists now: keep it open whatever ends this run
                        st.session_state["conversation"] = answer.conversation_id
                        for s in answer.retrieved:
                            status.write(f"[{s.n}] {s.filename} · {s.location or ''} · score {s.score:.2f}")
                        status.update(label=f"Searched {', '.join(stores)}: {len(answer.retrieved)} sources in {answer.retrieval_ms:.0f} ms"
                                      + (f" ({answer.sources_dropped} more did not fit the model)" if answer.sources_dropped else ""), state="complete")  # fmt: skip
                    yield piece
            finally:
                stream.close()  # stopped or finished: the answer so far is saved and the model's slot freed

        pieces = told()
        try:
            st.write_stream(pieces)
        finally:  # a click (Stop) ends this run with an exception: close now, so the answer is saved before the rerun
            pieces.close()
    except WorkbenchError as exc:
        status.update(label="Could not answer", state="error")
        st.error(str(exc))
    finally:
        settled.set()
    st.rerun()
