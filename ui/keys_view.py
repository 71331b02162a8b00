"""API keys on the Account page: make one (shown once), see yours, revoke; administrators see and revoke anyone's."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from core.catalog import now
from core.errors import WorkbenchError
from core.records import Actor, ApiKey
from core.workbench import Workbench
from ui.html import plain

EXPIRY = {"Never": None, "30 days": 30, "90 days": 90, "1 year": 365}
API_BASE = "http://localhost:8000/v1"  # where `python -m api` listens by default


def table(keys: Sequence[ApiKey], *, owners: bool = False) -> pd.DataFrame:
    at = now()
    return pd.DataFrame(
        [
            {
                **({"User": k.user} if owners else {}),
                "Name": k.name,
                "Key starts with": k.prefix + "…",
                "State": k.state(at),
                "Created (UTC)": f"{k.created_at:%Y-%m-%d %H:%M}",
                "Expires (UTC)": f"{k.expires_at:%Y-%m-%d}" if k.expires_at else "never",
                "Last used (UTC)": f"{k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "not yet",
            }
            for k in keys
        ]
    )


def _revoke(wb: Workbench, me: Actor, keys: Sequence[ApiKey], key: str) -> None:
    active = [k for k in keys if k.state(now()) == "active"]
    if not active:
        return
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    chosen = left.selectbox(
        "Revoke a key", active, format_func=lambda k: f"{k.name} ({k.prefix}…, {k.user})", key=key, index=None
    )
    if right.button("Revoke", key=f"{key}_button", disabled=chosen is None) and chosen is not None:
        try:
            wb.keys.revoke(me, chosen.id)
            st.toast(f"Revoked '{plain(chosen.name)}': programs using it are refused from now on.")
            st.rerun()
        except WorkbenchError as exc:
            st.error(plain(str(exc)))


def section(wb: Workbench, me: Actor) -> None:
    st.subheader("API keys")
    st.caption(
        "Other programs (the OpenAI SDK, LiteLLM, curl) use your stores with a key, with exactly your rights. "
        "A key is shown once, when it is made; only its first characters are kept to tell it apart."
    )
    made = st.session_state.get("new_api_key")
    if made:
        st.success("Your new key. Copy it now: it will not be shown again.")
        st.code(made, language=None)
        st.code(f'curl {API_BASE}/vector_stores -H "Authorization: Bearer {made}"', language="bash")
        if st.button("I have copied it", key="forget_new_key"):
            del st.session_state["new_api_key"]
            st.rerun()
    with st.form("new_key", clear_on_submit=True):
        name, expiry = st.columns([3, 1])
        label = name.text_input("What is it for?", placeholder="e.g. reporting notebook", key="key_name")
        days = expiry.selectbox("Expires", list(EXPIRY), key="key_expiry")
        if st.form_submit_button("Make a key", type="primary"):
            try:
                st.session_state["new_api_key"] = wb.keys.create(me, label, expires_days=EXPIRY[days]).secret
                st.rerun()
            except WorkbenchError as exc:
                st.error(plain(str(exc)))
    mine = wb.keys.mine(me)
    if mine:
        st.dataframe(table(mine), hide_index=True, width="stretch")
        _revoke(wb, me, mine, "revoke_key")
    else:
        st.info("You have no API keys yet.")
    if me.is_admin:
        with st.expander("Everyone's keys (administrators)"):
            everyone = wb.keys.all(me)
            st.dataframe(table(everyone, owners=True), hide_index=True, width="stretch")
            _revoke(wb, me, everyone, "revoke_any_key")
