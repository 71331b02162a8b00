"""Users (administrators): add people, reset passwords, make or unmake administrators, disable accounts."""

import streamlit as st

from core.errors import WorkbenchError
from ui import tables
from ui.groups_view import groups_panel
from ui.html import plain
from ui.session import signed_in

wb, me = signed_in()
if not me.is_admin:  # core refuses non-admins anyway
    st.stop()

st.title("Users")
try:
    people = wb.users.all(me)
except WorkbenchError as exc:
    st.error(plain(str(exc)))
    st.stop()
st.dataframe(tables.users(people), hide_index=True, width="stretch", key="users_table")

with st.form("add_user", clear_on_submit=True):
    st.subheader("Add a user")
    name = st.text_input("User name (lowercase)", key="add_user_name")
    password = st.text_input(
        "First password (at least 8 characters; they can change it)", type="password", key="add_user_password"
    )
    admin = st.checkbox("Administrator", key="add_user_admin")
    if st.form_submit_button("Add user", type="primary"):
        try:
            wb.users.add(me, name.strip(), password=password, admin=admin)
            st.toast(f"Added '{plain(name.strip())}'.")
            st.rerun()
        except WorkbenchError as exc:
            st.error(plain(str(exc)))

st.subheader("Change a user")
chosen = st.selectbox("User", [u.name for u in people], key="change_user")
person = next(u for u in people if u.name == chosen)
left, right = st.columns(2)
with left.form("reset_password", clear_on_submit=True):
    new = st.text_input("New password", type="password", key="reset_password_value")
    if st.form_submit_button("Reset password"):
        try:
            wb.users.set_password(me, person.name, new)  # every browser signed in as them must sign in again
            if person.name == me.name:
                st.session_state["session"] = wb.users.renew(me)  # except this one
            st.success(f"'{plain(person.name)}' has a new password; their open sessions have ended.")
        except WorkbenchError as exc:
            st.error(plain(str(exc)))
with right:
    for label, action, key in (
        (
            "Enable" if person.disabled else "Disable",
            lambda: wb.users.set_disabled(me, person.name, not person.disabled),
            "toggle_disabled",
        ),
        (
            "Remove administrator" if person.is_admin else "Make administrator",
            lambda: wb.users.set_admin(me, person.name, not person.is_admin),
            "toggle_admin",
        ),
    ):
        if st.button(label, key=key):
            try:
                action()
                st.rerun()
            except WorkbenchError as exc:
                st.error(plain(str(exc)))

groups_panel(wb, me, people)
