"""The one cached workbench of the app, and the guard every page (and every fragment) starts with."""

from __future__ import annotations

import threading
from typing import NoReturn

import streamlit as st

from core.errors import WorkbenchError
from core.records import Actor, Session
from core.workbench import Workbench
from ui.html import plain


@st.cache_resource(show_spinner="Opening the workbench…")
def workbench() -> Workbench:
    """The one composition root, shared by every session (it holds no per-user state); its worker adds uploaded
    files to stores in the background."""
    wb = Workbench()
    wb.start_jobs()
    return wb


def signed_in() -> tuple[Workbench, Actor]:
    """The workbench and who is acting, checked again now (a fragment reruns without app.py: a user disabled
    meanwhile is stopped here too); nobody signed in: the page shows nothing."""
    me = st.session_state.get("actor")
    session = st.session_state.get("session")
    if not isinstance(me, Actor) or not isinstance(session, Session):
        st.stop()
    wb = workbench()
    try:
        return wb, wb.actor(me.name, me.channel, since=session.started_at)
    except WorkbenchError as exc:
        st.session_state.pop("actor", None)
        st.session_state.pop("session", None)
        fail(exc)


def fail(message: object) -> NoReturn:
    """Say what went wrong in plain words, and draw nothing more of the page."""
    st.error(plain(str(message)))
    st.stop()


first_page = threading.Event()  # set once this process has drawn a page (server.py waits for it to load the models)


@st.cache_resource(show_spinner=False)
def warm_up() -> threading.Thread:
    """Once per process, when the server starts (server.py), or after the first page is drawn where it did not:
    load the models and open the stores in the background, so that the first search does not wait for them."""
    first_page.set()
    thread = threading.Thread(target=workbench().warm_up, name="warm-up", daemon=True)
    thread.start()
    return thread
