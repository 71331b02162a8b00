"""Signing in and out in the browser: the form, the login cookie, and the session kept in the page's state.

Core decides (the try count, the password check, whether a session still holds); this module only carries the
session between the browser and core. The cookie is read on the server from the request that opened the page
(`st.context.cookies`) and written by a one-line script in a zero-height frame, which never reports back: no
component value reaches the server, so no extra rerun can swallow the click on "Sign in" (the bug of the cookie
component streamlit-authenticator draws on every run). Written from the page, the cookie cannot be `HttpOnly`;
it gets `Secure` whenever the page is served over HTTPS (see the README's security section).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import streamlit as st

from core.access import SESSION_LENGTH
from core.errors import WorkbenchError
from core.records import Session
from core.workbench import Workbench
from ui.html import plain

COOKIE_NAME = "rag_workbench"


def current_session(wb: Workbench) -> Session | None:
    """This browser tab's session: the one it signed in with, else the one its login cookie still holds."""
    session = st.session_state.get("session")
    if isinstance(session, Session):
        return session
    if st.session_state.get("signed_out"):  # the cookie sent with this page was ended by signing out
        return None
    token = st.context.cookies.get(COOKIE_NAME)
    session = wb.users.resume(token) if token else None
    if session is not None:
        st.session_state["session"] = session
    return session


def end(message: str | None = None) -> None:
    """Forget this tab's session (its cookie is cleared by the sign-in page), with a reason to show there."""
    st.session_state.pop("session", None)
    st.session_state.pop("actor", None)
    st.session_state["signed_out"] = True
    if message:
        st.session_state["signed_out_reason"] = message


def form(wb: Workbench) -> None:
    """The sign-in form: one click signs in (core counts the try, checks the password and answers)."""
    if reason := st.session_state.pop("signed_out_reason", None):
        st.warning(plain(reason))
    with st.form("login_form", border=True):
        name = st.text_input("Username", key="login_name", autocomplete="username")
        password = st.text_input("Password", type="password", key="login_password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary", use_container_width=True)
    if st.context.cookies.get(COOKIE_NAME):
        _write_cookie("", max_age=0)  # an ended session's cookie: gone from the browser too
    if submitted:
        try:
            session = wb.users.sign_in(name, password)
        except WorkbenchError as exc:
            st.error(plain(str(exc)))
            return
        st.session_state["session"] = session
        st.session_state.pop("signed_out", None)
        st.rerun()


def sign_out_button(wb: Workbench) -> None:
    """Sign out: every session of the user ends in core (a copied cookie no longer signs in anywhere)."""
    if st.button("Sign out", key="sign_out"):
        me = st.session_state.get("actor")
        if me is not None:
            wb.users.sign_out(me)
        end()
        st.rerun()


def keep_cookie(session: Session) -> None:
    """Give the browser the session's cookie, so that a reload or a new tab stays signed in (until it ends)."""
    if st.context.cookies.get(COOKIE_NAME) != session.token:
        left = session.started_at + SESSION_LENGTH - datetime.now(UTC)
        _write_cookie(session.token, max_age=max(0, int(left.total_seconds())))


def _write_cookie(value: str, *, max_age: int) -> None:
    cookie = json.dumps(f"{COOKIE_NAME}={value}; path=/; max-age={max_age}; samesite=strict")
    script = f"parent.document.cookie = {cookie} + (parent.location.protocol === 'https:' ? '; secure' : '');"
    st.iframe(f"<script>{script}</script>", height="content")  # nothing to show: sized to nothing
