"""Chat: answers from your stores, streamed, with the sources they cite; conversations kept and exportable."""

import threading
from collections.abc import Generator

import streamlit as st

from core.errors import WorkbenchError
from core.options import AskOptions
from ui.chat_view import message
from ui.search_settings import search_settings
from ui.session import signed_in

wb, me = signed_in()
readable = [s.store.name for s in wb.stores.visible(me)]
if not readable:
    st.title("Chat")
    st.info("No store to chat with yet: create one on the Stores page, or ask an owner to share one.")
    st.stop()
if (answering := st.session_state.pop("answering", None)) is not None:
    answering.wait(timeout=5)  # after a Stop click this run starts while the last one still saves its answer
conversations = wb.chat.conversations(me)
current = st.session_state.get("conversation")
current = current if current in {c.id for c in conversations} else None
found, messages = wb.chat.conversation(me, current) if current else (None, [])
default = [s for s in (found.stores if found else readable[:1]) if s in readable] or readable[:1]
with st.sidebar:
    st.subheader("Conversations")
    if st.button("New chat", icon=":material/add:", key="new_chat"):
        st.session_state.pop("conversation", None)
        st.rerun()
    for c in conversations[:20]:
        if st.button(c.title, key=f"open_{c.id}", type="primary" if c.id == current else "tertiary"):
            st.session_state["conversation"] = c.id
            st.rerun()
    with st.expander("Answer settings"):
        models = wb.models.names("chat")
        chosen = wb.settings.chat_model
        model = st.selectbox("Model", models, index=models.index(chosen) if chosen in models else 0, key="chat_model")
        temperature = st.slider("Temperature", 0.0, 1.0, AskOptions().temperature, 0.05, key="chat_temperature")
        system = st.text_area("Instructions (empty: the default)", key="chat_system")
        st.caption(f"Search settings: the saved ones of '{default[0]}', until you change them here.")
        search = search_settings(wb, wb.stores.search_defaults(me, default[0]), "chat", most=20)

st.title(found.title if found else "Chat")
stores = st.multiselect("Stores", readable, default=default, key=f"chat_stores_{current}")
if found and current:
    left, middle, right = st.columns([3, 1, 1])
    title = left.text_input("Title", found.title, key=f"title_{current}", label_visibility="collapsed")
    if title.strip() and title != found.title:
        wb.chat.rename(me, current, title)
    middle.download_button("Export", wb.chat.export(me, current), file_name="conversation.md", key="export_chat")
    if right.button("Delete", key="delete_chat"):
        wb.chat.delete(me, current)
        st.session_state.pop("conversation", None)
        st.rerun()
for shown in messages:
    message(wb, me, shown, readable)
last_question = next((m.content for m in reversed(messages) if m.role == "user"), None)
again = last_question is not None and st.button(
    "Regenerate the last answer", icon=":material/refresh:", key="regenerate"
)
prompt = st.chat_input("Ask about your documents", key="chat_input") or (last_question if again else None)
if not prompt or not stores:
    st.stop()

options = AskOptions(model=model, temperature=temperature, system_prompt=system or None, search=search)
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
        stream, answer = wb.chat.ask(me, stores, prompt, conversation=current, options=options)

        def told() -> Generator[str, None, None]:
            try:
                for n, piece in enumerate(stream):
                    if n == 0:  # the conversation exists now: keep it open whatever ends this run
                        st.session_state["conversation"] = answer.conversation_id
                        for s in answer.retrieved:
                            status.write(f"[{s.n}] {s.filename} · {s.location or ''} · score {s.score:.2f}")
                        dropped = f" ({answer.sources_dropped} more did not fit the model)" * bool(
                            answer.sources_dropped
                        )
                        label = f"Searched {', '.join(stores)}: {len(answer.retrieved)} sources in {answer.retrieval_ms:.0f} ms"
                        status.update(label=label + dropped, state="complete")
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
