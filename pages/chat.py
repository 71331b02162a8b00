"""Chat: answers from your stores, streamed, with the sources they cite; conversations kept and exportable."""

from dataclasses import replace

import streamlit as st

from core.errors import WorkbenchError
from core.options import Filters
from ui.chat_view import answer_settings, answering, conversation_list, message
from ui.html import plain
from ui.session import fail, signed_in

RECENT = 200  # conversations listed

wb, me = signed_in()
readable = [s.store.name for s in wb.stores.visible(me)]
if not readable:
    st.title("Chat")
    st.info("No store to chat with yet: create one on the Stores page, or ask an owner to share one.")
    st.stop()
conversations = wb.chat.conversations(me, limit=RECENT)  # the most recent; an older one stays open once opened
current = st.session_state.get("conversation")
try:
    found, messages = wb.chat.conversation(me, current) if current else (None, [])
except WorkbenchError:  # deleted meanwhile, or in another tab
    current, found, messages = None, None, []
default = [s for s in (found.stores if found else readable[:1]) if s in readable] or readable[:1]
with st.sidebar:
    conversation_list(conversations, current)
    options = answer_settings(wb, me, found, default[0], current)

st.title(plain(found.title) if found else "Chat")
stores = st.multiselect("Stores", readable, default=default, key=f"chat_stores_{current}")
names = sorted(set(wb.documents.names(me, stores)))  # the newest thousand: a store may hold a hundred thousand
st.session_state["chat_documents"] = [n for n in st.session_state.get("chat_documents", []) if n in names]
only = st.multiselect("Only these documents (empty: all of them)", names, key="chat_documents")
if only:
    options = replace(options, search=replace(options.search, filters=Filters(filenames=tuple(only))))
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
if current and (job := wb.chat.running(me, current)) is not None:  # still being written, also after a reload
    st.chat_input("Ask about your documents", key="chat_input", disabled=True)
    answering(job, stores)
last_question = next((m.content for m in reversed(messages) if m.role == "user"), None)
again = last_question is not None and st.button(
    "Regenerate the last answer", icon=":material/refresh:", key="regenerate"
)
prompt = st.chat_input("Ask about your documents", key="chat_input") or (last_question if again else None)
if not prompt or not stores:
    st.stop()
try:  # the answer is written in the background: leaving or reloading the page does not cut it short
    job = wb.chat.start(me, stores, prompt, conversation=current, options=options)
except WorkbenchError as exc:
    fail(exc)
st.session_state["conversation"] = job.conversation_id
st.rerun()
