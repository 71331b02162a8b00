"""Signing in and out in the browser: the form, the login cookie, and the session kept in the page's state.

Core decides (the try count, the password check, whether a session still holds); this module only carries the
session between the browser and core. The cookie is read on the server from the request that opened the page
(`st.context.cookies`) and set by the server (`ui.web`: HttpOnly, SameSite=Strict, Secure over HTTPS): a
one-line script in a frame of no height posts a one-time code to the server, which answers with the cookie.
The script never reports back to Streamlit, so no extra rerun can swallow the click on "Sign in" (the bug of the
cookie component streamlit-authenticator drew on every run).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import streamlit as st

from core.access import SESSION_LENGTH
from core.errors import WorkbenchError
from core.records import Session
from core.workbench import Workbench
from ui import web
from ui.html import plain


def current_session(wb: Workbench) -> Session | None:
    """This browser tab's session: the one it signed in with, else the one its login cookie still holds."""
    session = st.session_state.get("session")
    if isinstance(session, Session):
        return session
    if st.session_state.get("signed_out"):  # the cookie sent with this page was ended by signing out
        return None
    token = st.context.cookies.get(web.COOKIE_NAME)
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
    if st.context.cookies.get(web.COOKIE_NAME):
        _post(web.SIGN_OUT_PATH, "")  # an ended session's cookie: gone from the browser too
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
    """Have the server give the browser the session's cookie, so that a reload or a new tab stays signed in."""
    if st.context.cookies.get(web.COOKIE_NAME) == session.token:
        return
    code = st.session_state.get("cookie_code")
    if not code or code[0] != session.token:  # one code per session: the same frame is not posted twice
        left = session.started_at + SESSION_LENGTH - datetime.now(UTC)
        code = (session.token, web.handoff(session.token, max(0, int(left.total_seconds()))))
        st.session_state["cookie_code"] = code
    _post(web.SESSION_PATH, code[1])


def _post(path: str, body: str) -> None:
    """A request from the page to the app's own server (its answer sets or clears the cookie)."""
    script = f"fetch(parent.location.origin + {json.dumps(path)}, {{method: 'POST', body: {json.dumps(body)}}});"
    st.iframe(f"<script>{script}</script>", height="content")  # nothing to show: sized to nothing
