"""A store's sharing tab: pick people and groups from lists, see at once who has access and through what."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.errors import WorkbenchError
from core.records import Actor
from core.workbench import Workbench
from ui.html import plain

GROUP = "group: "  # how a group is told apart from a person in the picker
ROLES = ["viewer", "editor", "owner"]


def sharing(wb: Workbench, me: Actor, store: str) -> None:
    people = [n for n in wb.users.names(me) if n != me.name]
    groups = [g.name for g in wb.groups.all(me)]
    with st.form("share", clear_on_submit=True):
        chosen = st.multiselect("People and groups", [*(GROUP + g for g in groups), *people], key="share_with",
                                placeholder="pick from the list (groups first)")  # fmt: skip
        role = st.radio("Role", ROLES, horizontal=True, key="share_role",
                        captions=["search and chat", "also add, fix and delete documents", "also share and delete the store"])  # fmt: skip
        if st.form_submit_button("Share"):
            _share(wb, me, store, chosen, role)
    entries = wb.stores.access(me, store)  # read after the form: a new share shows at once
    st.caption("Who has access (administrators may use every store)")
    table = pd.DataFrame([{"User": a.user, "Role": a.role.value, "Through": a.via} for a in entries])
    st.dataframe(table, hide_index=True, key="access_table")
    shared = wb.stores.grants(me, store)
    with_groups = wb.stores.group_grants(me, store)
    revocable = [*(GROUP + g.group for g in with_groups), *(g.user for g in shared)]
    if revocable:
        gone = st.selectbox("Take access away from", revocable, key="revoke_user")
        if st.button("Revoke", key="revoke"):
            if gone.startswith(GROUP):
                wb.stores.revoke_group(me, store, gone.removeprefix(GROUP))
            else:
                wb.stores.revoke(me, store, gone)
            st.rerun()


def _share(wb: Workbench, me: Actor, store: str, chosen: list[str], role: str) -> None:
    if not chosen:
        st.error("Pick at least one person or group to share with.")
        return
    for entry in chosen:
        try:
            if entry.startswith(GROUP):
                wb.stores.grant_group(me, store, entry.removeprefix(GROUP), role)
            else:
                wb.stores.grant(me, store, entry, role)
        except WorkbenchError as exc:
            st.error(plain(str(exc)))
            return
    named = [f"the group {e.removeprefix(GROUP)}" if e.startswith(GROUP) else e for e in chosen]
    st.success(
        plain(
            f"{', '.join(named).capitalize()} now {'has' if len(chosen) == 1 else 'have'} {role} access to '{store}'."
        )
    )
