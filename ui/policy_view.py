"""The Stores page's Policies tab: the injection check, the safety filter, token limits and budgets of one store, and
the latest decisions they made."""

from __future__ import annotations

import streamlit as st

from core.errors import WorkbenchError
from core.policy import LABELS, MODES, StorePolicy
from core.records import Actor, Store
from core.workbench import Workbench
from ui import tables
from ui.html import plain

MODE_WORDS = {
    "injection": {"block": "Block: leave the passage out, refuse the question", "flag": "Flag: let it through, record it",
                  "off": "Off"},
    "safety": {"block": "Block: replace the answer with a notice", "flag": "Flag: show it with a warning, record it",
               "off": "Off"},
}  # fmt: skip
CATCHES = (
    "Offline, the safety filter's rules catch secrets (keys, tokens, passwords), payment redirection (the reader told "
    "to wire money to an account or wallet), credential phishing, instructions for weapons or drugs of mass harm, and "
    "encouragement of self-harm. They cannot catch hate, harassment, misinformation or harm in other words or "
    "languages: set WORKBENCH_MODERATION_MODEL to add a provider's moderation model."
)


def policies_tab(wb: Workbench, me: Actor, store: Store) -> None:
    policy = StorePolicy.of(store.policy)
    st.write(
        "What this store checks before its text reaches a model, and how much its users and keys may use. The "
        "injection check reads each question and each passage found for an answer: text that reads as instructions to "
        "the assistant (\u201cignore your instructions\u201d, chat-role markers, requests to reveal the prompt, hidden "
        "characters) scores from 0 to 1. Every flag, block and refusal is kept in the audit."
    )
    with st.form("store_policy"):
        left, right = st.columns(2)
        injection = left.selectbox(LABELS["injection"], MODES[::-1], MODES[::-1].index(policy.injection),
                                   format_func=MODE_WORDS["injection"].__getitem__, key="policy_injection")  # fmt: skip
        threshold = right.slider(LABELS["injection_threshold"], 0.05, 1.0, float(policy.injection_threshold), 0.05,
                                 help="Lower catches more and spares fewer ordinary passages.", key="policy_threshold")  # fmt: skip
        safety = left.selectbox(LABELS["safety"], MODES[::-1], MODES[::-1].index(policy.safety),
                                format_func=MODE_WORDS["safety"].__getitem__, key="policy_safety")  # fmt: skip
        right.caption(CATCHES)
        st.markdown("**Limits and budgets** (0: none)" + ("" if me.is_admin else ": set by an administrator"))
        columns = st.columns(3)
        limits = {}
        for n, name in enumerate(("tokens_per_request", "tokens_per_ingest", "tokens_per_day_user",
                                  "tokens_per_day_key", "budget_per_month_user", "budget_per_month_key")):  # fmt: skip
            money = name.startswith("budget")
            limits[name] = columns[n % 3].number_input(
                LABELS[name], min_value=0.0 if money else 0, value=getattr(policy, name), step=1.0 if money else 1000,
                format="%.2f" if money else "%d", disabled=not me.is_admin, key=f"policy_{name}",
            )  # fmt: skip
        saved = st.form_submit_button("Save policy", type="primary")
    if saved:
        wanted = {"injection": injection, "injection_threshold": round(threshold, 2), "safety": safety, **limits}
        changes = {k: v for k, v in wanted.items() if v != getattr(policy, k)}
        try:
            if changes:
                wb.stores.set_policy(me, store.name, changes)
            st.toast("Policy saved." if changes else "Nothing changed.", icon=":material/check:")
            if changes:
                st.rerun()
        except WorkbenchError as exc:
            st.error(plain(str(exc)))
    _decisions(wb, me, store)


def _decisions(wb: Workbench, me: Actor, store: Store) -> None:
    total, latest = wb.usage.decisions(me, store=store.name, per_page=20)
    st.markdown(f"**Latest decisions** ({total:,} in all)")
    if not latest:
        st.caption("None yet: nothing in this store has been flagged, withheld, refused or blocked.")
        return
    st.dataframe(tables.decisions(latest), hide_index=True, width="stretch", key="policy_decisions")
