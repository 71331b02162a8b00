"""RAG Workbench: the Streamlit entry point (logging, page config, login gate, navigation).

Before login the only page is "Sign in" (or, on a new installation, "Create the administrator").
After login, every run resolves who is acting once (`st.session_state["actor"]`, refused once the account is
disabled or removed, or its sessions have ended); pages pass it to every core operation, which checks it. A page opened without it shows
nothing (each page starts with `ui.session.signed_in()`).
"""

import logging

import streamlit as st

import core  # noqa: F401  (sets the offline environment before any model library loads)
from core.errors import WorkbenchError
from core.records import Channel
from ui import signin
from ui.html import plain
from ui.icon import app_icon
from ui.session import warm_up
from ui.session import workbench as app_workbench

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


if workbench.users.needs_first_admin():  # nobody can sign in yet
    st.session_state.pop("actor", None)
    st.navigation([st.Page(first_admin_page, title="Sign in", icon=":material/login:")]).run()
    st.stop()
session = signin.current_session(workbench)  # the tab's own, or the one its login cookie still holds
me = None
if session is not None:
    try:  # refused once the account is disabled or removed, or its sessions ended (sign-out, new password, role)
        me = workbench.actor(session.name, Channel.APP, since=session.started_at)
    except WorkbenchError as exc:
        signin.end(str(exc))


def login_page() -> None:
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        st.title("RAG Workbench")
        st.caption("Search, compare and chat with your documents.")
        signin.form(workbench)


if me is not None and session is not None:
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
        sections["Admin"] = [
            st.Page("pages/users.py", title="Users", icon=":material/group:"),
            st.Page("pages/models.py", title="Models", icon=":material/neurology:"),
            st.Page("pages/audit.py", title="Audit", icon=":material/policy:"),
        ]
    navigation = st.navigation(sections, position="hidden")
    with st.sidebar:  # our own menu: with showSidebarNavigation off, pages/ is never listed by itself
        st.markdown("### :material/library_books: RAG Workbench")
        for section, pages in sections.items():
            st.caption(section)
            for entry in pages:
                st.page_link(entry)
        st.divider()
        st.markdown(f"**{plain(me.name)}** · {'administrator' if me.is_admin else 'user'}")
        signin.sign_out_button(workbench)
        signin.keep_cookie(session)
else:
    st.session_state.pop("actor", None)
    navigation = st.navigation([st.Page(login_page, title="Sign in", icon=":material/login:")])
navigation.run()
warm_up()  # after the page is drawn: loading the models must not delay the first paint
