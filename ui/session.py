"""The one cached workbench of the app, and the guard every page starts with."""

from __future__ import annotations

import streamlit as st

from core.records import Actor
from core.workbench import Workbench


@st.cache_resource(show_spinner="Opening the workbench…")
def services() -> Workbench:
    """The one composition root, shared by every session (it holds no per-user state)."""
    return Workbench()


def signed_in() -> tuple[Workbench, Actor]:
    """The workbench and who is acting (app.py resolves it on every run); nobody signed in: the page shows nothing."""
    me = st.session_state.get("actor")
    if not isinstance(me, Actor):
        st.stop()
    return services(), me


def fail(message: object) -> None:
    """Say what went wrong in plain words, and draw nothing more of the page."""
    st.error(str(message))
    st.stop()
