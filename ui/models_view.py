"""The Models page's parts: the defaults form, the connections and their tests, local servers, the connect form."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pandas as pd
import streamlit as st

from core.errors import WorkbenchError
from core.models import ROLES, Connection, ModelEntry, RoleChoice
from core.providers import PROVIDERS
from core.records import Actor
from core.workbench import Workbench
from core.workbench.models import Looked
from ui.html import plain

ROLE_LABELS = {
    "chat": "Chat: writes the answers",
    "judge": "Judge: reranks with a model and rewrites questions",
    "vision": "Vision: describes images in uploaded files",
    "rerank": "Rerank models users may pick in search settings (a store's saved settings choose one)",
}
CONFIGURED = "(the server's setting)"


def models_table(entries: Sequence[ModelEntry], connections: Sequence[Connection]) -> None:
    by_id = {c.id: c for c in connections}
    rows = []
    for e in entries:
        c = by_id.get(e.connection)
        source = {"bundled": "bundled, offline", "config": "server config (read-only)"}.get(e.source, "")
        rows.append({"Model": e.name, "For": ", ".join(e.kinds), "From": source or f"connection {c.name if c else '?'}",
                     "Address": (c.api_base if c else str(e.params.get("api_base") or "")),
                     "Key": (c.key_prefix if c else "") or ("—" if c else "")})  # fmt: skip
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="models_table")


def defaults_form(wb: Workbench, me: Actor, entries: Sequence[ModelEntry], roles: Mapping[str, RoleChoice]) -> None:
    st.caption(
        "The embedding model is chosen per store when it is made: changing it means embedding every chunk again "
        "(Stores → the store → Embedding)."
    )
    with st.form("model_defaults"):
        picked: dict[str, RoleChoice] = {}
        for role, kind in ROLES.items():
            names = [e.name for e in entries if kind in e.kinds]
            choice = roles[role]
            st.markdown(f"**{ROLE_LABELS[role]}**")
            left, right = st.columns([1, 2])
            options = [CONFIGURED, *names]
            start = options.index(choice.default) if choice.default in options else 0
            default = CONFIGURED
            if role != "rerank":
                default = left.selectbox("Default", options, start, key=f"role_{role}_default")
            allowed = right.multiselect(
                "Users may pick (none chosen: all of them)",
                names,
                [n for n in (choice.allowed or ()) if n in names],
                key=f"role_{role}_allowed",
            )
            picked[role] = RoleChoice("" if default == CONFIGURED else default, tuple(allowed) or None)
        if st.form_submit_button("Save defaults", type="primary"):
            try:
                wb.models.set_roles(me, picked)
            except WorkbenchError as exc:
                st.error(plain(str(exc)))
            else:
                st.toast("Saved: the next answers use these models.")
                st.rerun()


def connection_panel(wb: Workbench, me: Actor, connection: Connection) -> None:
    label = PROVIDERS[connection.provider].label.split(" (")[0]
    with st.expander(f"{connection.name} · {label} · {_count(len(connection.models), 'model')}", icon=":material/hub:"):
        st.caption(
            f"{connection.api_base or 'the provider’s own address'} · key: {connection.key_prefix or 'none'} · "
            f"added by {connection.created_by} on {connection.created_at:%Y-%m-%d}"
        )
        for served in connection.models:
            name = f"{connection.name}/{served.name}"
            left, right = st.columns([3, 1])
            left.write(f"`{name}` · {served.kind}")
            if right.button("Test", key=f"test_{name}", icon=":material/bolt:"):
                with st.spinner(f"Calling {name}…"):
                    st.session_state[f"tested_{name}"] = wb.models.test(me, name)
            tested = st.session_state.get(f"tested_{name}")
            if tested is not None:
                (st.success if tested.ok else st.error)(plain(tested.message))
        with st.form(f"edit_{connection.id}", clear_on_submit=True):
            base = st.text_input("Address", connection.api_base, key=f"edit_base_{connection.id}")
            key = st.text_input("New key (empty: keep the saved one)", type="password", key=f"edit_key_{connection.id}")
            names = st.text_input("Models, separated by commas", ", ".join(m.name for m in connection.models),
                                  key=f"edit_models_{connection.id}")  # fmt: skip
            if st.form_submit_button("Save changes"):
                models = [n.strip() for n in names.split(",") if n.strip()]
                done = f"Saved '{connection.name}'."
                _run(done, wb.models.edit, me, connection.id, api_base=base, key=key or None, models=models)
        if st.button("Remove this connection", key=f"remove_{connection.id}", icon=":material/delete:"):
            _run(f"Removed '{connection.name}'.", wb.models.remove, me, connection.id)


def local_servers(wb: Workbench, me: Actor, looked: Looked, connections: Sequence[Connection]) -> None:
    st.caption(
        "Model servers running on this machine (Ollama, llama.cpp, vLLM, LM Studio at their usual ports), found by "
        "asking 127.0.0.1 only" + (f"; last looked {looked.at:%Y-%m-%d %H:%M} UTC." if looked.at else ".")
    )
    if st.button("Look again", icon=":material/radar:", key="look_again"):
        _run("Looked again.", wb.models.local_servers, me, again=True)
    taken = {c.api_base for c in connections}
    if not looked.servers:
        st.info("No model server answers on this machine's usual ports.")
    for n, server in enumerate(looked.servers):
        left, right = st.columns([3, 1])
        shown = ", ".join(server.models[:6]) + (" …" if len(server.models) > 6 else "")
        left.markdown(
            f"**{plain(server.label)}** · `{server.api_base}` · {_count(len(server.models), 'model')}: {plain(shown)}"
        )
        if server.api_base in taken:
            right.caption("Connected")
        elif right.button("Connect", key=f"connect_local_{n}", type="primary", disabled=not server.models):
            name = "ollama" if server.provider == "ollama" else f"local-{server.api_base.split(':')[-1].split('/')[0]}"
            done = f"Connected '{name}' with {_count(len(server.models), 'model')}."
            _run(done, wb.models.add, me, name, server.provider, api_base=server.api_base, models=server.models)


def connect_form(wb: Workbench, me: Actor) -> None:
    provider = st.selectbox("Provider", list(PROVIDERS), format_func=lambda p: PROVIDERS[p].label, key="new_provider")
    kind = PROVIDERS[provider]
    left, right = st.columns(2)
    name = left.text_input("Name (its models are called name/model)", key="new_model_name", placeholder="team-gpt")
    base = right.text_input("Server address" + ("" if kind.needs_base else " (empty: the provider's)"), key="new_model_base",
                            placeholder=kind.api_base or "http://127.0.0.1:8080/v1")  # fmt: skip
    key = left.text_input("API key" + ("" if kind.needs_key else " (if it asks for one)"), type="password",
                          key="new_model_key")  # fmt: skip
    version = right.text_input("API version", key="new_model_version") if kind.needs_version else ""
    if kind.lists and st.button("List its models", icon=":material/list:", key="list_models"):
        try:
            st.session_state["listed_models"] = wb.models.server_models(me, provider, api_base=base, key=key)
        except WorkbenchError as exc:
            st.error(plain(str(exc)))
    listed = st.session_state.get("listed_models") or []
    chosen = st.multiselect("Models it serves", listed, listed[:20], key="new_model_listed") if listed else []
    typed = st.text_input("Other models, separated by commas", key="new_model_typed", placeholder="gpt-4o-mini")
    if st.button("Connect", type="primary", key="connect_model"):
        models = [*chosen, *(t.strip() for t in typed.split(",") if t.strip())]
        done = f"Connected '{name.strip().lower()}'. Test it on the Connections tab."
        added = _run(done, wb.models.add, me, name, provider, api_base=base, key=key, models=models,
                     api_version=version, rerun=False)  # fmt: skip
        if added:
            for field in ("new_model_name", "new_model_base", "new_model_key", "new_model_typed", "listed_models"):
                st.session_state.pop(field, None)  # the key is never shown again
            st.rerun()


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _run(done: str, action: Callable[..., object], *args: object, rerun: bool = True, **kwargs: object) -> bool:
    """Do it; say it was done (and draw the page again), or say in words why not."""
    try:
        action(*args, **kwargs)
    except WorkbenchError as exc:
        st.error(plain(str(exc)))
        return False
    st.toast(plain(done))
    if rerun:
        st.rerun()
    return True
