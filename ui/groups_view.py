"""Groups on the Users page (administrators): make a team, choose its members, remove it."""

from __future__ import annotations

import streamlit as st

from core.errors import WorkbenchError
from core.records import Actor, User
from core.workbench import Workbench
from ui.html import plain


def groups_panel(wb: Workbench, me: Actor, people: list[User]) -> None:
    st.subheader("Groups")
    st.caption("Share a store with a group on the Stores page: everyone in it gets the group's role, now and later.")
    with st.form("add_group", clear_on_submit=True):
        name = st.text_input("New group", key="add_group_name", placeholder="e.g. analysts")
        if st.form_submit_button("Create group"):
            try:
                wb.groups.create(me, name.strip())
                st.toast(f"Created the group '{plain(name.strip())}'.")
            except WorkbenchError as exc:
                st.error(plain(str(exc)))
    groups = {g.name: g for g in wb.groups.all(me)}
    if not groups:
        st.caption("No groups yet.")
        return
    st.dataframe([{"Group": g.name, "Members": ", ".join(g.members) or "(none)"} for g in groups.values()],
                 hide_index=True, key="groups_table")  # fmt: skip
    group = groups[st.selectbox("Group", list(groups), key="edit_group")]
    members = st.multiselect(
        "Members", [u.name for u in people], default=list(group.members), key=f"members_{group.name}"
    )
    save, remove = st.columns([1, 3])
    if save.button("Save members", key="save_members"):
        try:
            for user in set(members) - set(group.members):
                wb.groups.add_member(me, group.name, user)
            for user in set(group.members) - set(members):
                wb.groups.remove_member(me, group.name, user)
            st.rerun()
        except WorkbenchError as exc:
            st.error(plain(str(exc)))
    if remove.button("Delete group", key="delete_group"):
        wb.groups.delete(me, group.name)
        st.rerun()
