"""Account: change your own password; make and revoke API keys."""

import streamlit as st

from core.errors import WorkbenchError
from ui.html import plain
from ui.keys_view import section
from ui.session import signed_in

wb, me = signed_in()

st.title("Account")
st.write(f"Signed in as **{plain(me.name)}**.")
with st.form("change_password", clear_on_submit=True):
    current = st.text_input("Current password", type="password", key="current_password")
    new = st.text_input("New password (at least 8 characters)", type="password", key="new_password")
    repeat = st.text_input("Repeat the new password", type="password", key="repeat_password")
    if st.form_submit_button("Change password", type="primary"):
        if new != repeat:
            st.error("The two new passwords differ; type them again.")
        else:
            try:
                wb.users.set_password(me, me.name, new, current=current)  # ends every session of yours...
                st.session_state["session"] = wb.users.renew(me)  # ...but this one goes on with a new cookie
                st.success("Your password is changed. Any other browser signed in as you must sign in again.")
            except WorkbenchError as exc:
                st.error(plain(str(exc)))

section(wb, me)
