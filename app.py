"""RAG Workbench: the Streamlit entry point (logging, page config, login gate, navigation).

Before login the only page is "Sign in" (or, on a new installation, "Create the administrator").
After login, every run resolves who is acting once (`st.session_state["actor"]`, refused once the account is
disabled or removed); pages pass it to every core operation, which checks it. A page opened without it shows
nothing (each page starts with `ui.session.signed_in()`).
"""

import contextlib
import logging

import streamlit as st
import streamlit_authenticator as stauth
from streamlit_authenticator.utilities.exceptions import LoginError

import core  # noqa: F401  (sets the offline environment before any model library loads)
from core.access import MAX_LOGIN_FAILURES
from core.errors import WorkbenchError
from core.records import Channel
from ui.html import plain
from ui.icon import app_icon
from ui.session import warm_up
from ui.session import workbench as app_workbench

COOKIE_NAME = "rag_workbench"
COOKIE_DAYS = 7.0

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
st.set_page_config(page_title="RAG Workbench", page_icon=app_icon(), layout="wide")  # drawn here: no font CDN


workbench = app_workbench()


def first_admin_page() -> None:
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        first_admin_form()


def first_admin_form() -> None:
    st.title("Welcome to RAG Workbench")
    st.write("Create the administrator account. You will sign in with it and add everyone else.")
    with st.form("first_admin", border=True):
        name = st.text_input("User name", value="admin", key="first_admin_name")
        password = st.text_input("Password (at least 8 characters)", type="password", key="first_admin_password")
        repeat = st.text_input("Repeat the password", type="password", key="first_admin_repeat")
        if st.form_submit_button("Create administrator", type="primary"):
            if password != repeat:
                st.error("The two passwords differ; type them again.")
            else:
                try:
                    workbench.users.create_first_admin(name, password)
                except WorkbenchError as exc:
                    st.error(plain(str(exc)))
                else:
                    st.rerun()  # the login form comes next


if workbench.users.needs_first_admin():  # nobody can sign in yet: no login cookie component either (its first
    st.session_state.pop("actor", None)  # rerun could swallow the click on "Create administrator")
    st.navigation([st.Page(first_admin_page, title="Sign in", icon=":material/login:")]).run()
    st.stop()
signed_in = st.session_state.get("username") if st.session_state.get("authentication_status") else None
credentials = workbench.users.login_credentials(only=signed_in)
authenticator = stauth.Authenticate(
    credentials, COOKIE_NAME, workbench.users.cookie_key(), COOKIE_DAYS, auto_hash=False, login_sleep_time=0
)
with contextlib.suppress(LoginError):  # a cookie of a user who is gone or disabled: the login form shows
    authenticator.login(location="unrendered")  # signs in again from a valid cookie


def login_page() -> None:
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        login_form()


def login_form() -> None:
    st.title("RAG Workbench")
    st.caption("Search, compare and chat with your documents.")
    try:
        authenticator.login(location="main", key="login_form", max_login_attempts=MAX_LOGIN_FAILURES)
    except LoginError:
        st.error("Too many failed sign-ins; wait 15 minutes or ask an administrator for a new password.")
    for name, entry in credentials["usernames"].items():  # keep the form's failed-attempt counts
        workbench.users.record_login_failures(name, int(entry.get("failed_login_attempts", 0)))
    if st.session_state.get("authentication_status") is False:
        st.error("Wrong user name or password.")


if st.session_state.get("authentication_status"):
    try:
        me = workbench.actor(st.session_state["username"], Channel.APP)  # refused once disabled or removed
    except WorkbenchError as exc:
        authenticator.logout(location="unrendered")
        st.session_state.pop("actor", None)
        st.error(plain(str(exc)))
        st.stop()
    st.session_state["actor"] = me
    sections = {
        "Documents": [
            st.Page("pages/stores.py", title="Stores", icon=":material/database:", default=True),
            st.Page("pages/upload.py", title="Upload", icon=":material/upload_file:"),
            st.Page("pages/documents.py", title="Documents", icon=":material/description:"),
        ],
        "Ask": [
            st.Page("pages/search.py", title="Search", icon=":material/search:"),
            st.Page("pages/chat.py", title="Chat", icon=":material/chat:"),
            st.Page("pages/evaluate.py", title="Evaluate", icon=":material/fact_check:"),
        ],
        "Insights": [st.Page("pages/usage.py", title="Usage", icon=":material/bar_chart:")],
        "You": [st.Page("pages/account.py", title="Account", icon=":material/person:")],
    }
    if me.is_admin:
        sections["Admin"] = [st.Page("pages/users.py", title="Users", icon=":material/group:")]
    navigation = st.navigation(sections, position="hidden")
    with st.sidebar:  # our own menu: with showSidebarNavigation off, pages/ is never listed by itself
        st.markdown("### :material/library_books: RAG Workbench")
        for section, pages in sections.items():
            st.caption(section)
            for entry in pages:
                st.page_link(entry)
        st.divider()
        st.markdown(f"**{plain(me.name)}** · {'administrator' if me.is_admin else 'user'}")
        authenticator.logout("Sign out", location="sidebar", key="sign_out")  # "logout" is the library's own state key
else:
    st.session_state.pop("actor", None)
    navigation = st.navigation([st.Page(login_page, title="Sign in", icon=":material/login:")])
navigation.run()
warm_up()  # after the page is drawn: loading the models must not delay the first paint
