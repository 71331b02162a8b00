"""Models (administrators): connect model servers, test them, choose each role's default and what users may pick."""

import streamlit as st

from core.errors import WorkbenchError
from ui import models_view
from ui.html import plain
from ui.session import fail, signed_in

wb, me = signed_in()
if not me.is_admin:  # core refuses non-admins anyway
    st.stop()

st.title("Models")
st.caption(
    "The bundled models answer with no key and nothing leaving this machine. Connect a provider or a model server "
    "here to use it; every call goes through LiteLLM and is recorded in Usage and Audit."
)
try:
    entries = wb.models.entries(me)
    connections = wb.models.connections(me)
    roles = wb.models.roles(me)
except WorkbenchError as exc:
    fail(exc)

defaults, connected, found, new = st.tabs(["Defaults", "Connections", "Found on this machine", "Connect a server"])
with defaults:
    models_view.defaults_form(wb, me, entries, roles)
with connected:
    models_view.models_table(entries, connections)
    for connection in connections:
        models_view.connection_panel(wb, me, connection)
    fixed = [e for e in entries if e.source == "config"]
    if fixed:
        st.caption(
            f"{len(fixed)} models come from the server's config ({wb.settings.models_file}): read-only here; "
            "change them in that file."
        )
with found:
    try:
        looked = wb.models.local_servers(me)  # looked for on the first visit; "Look again" below
        models_view.local_servers(wb, me, looked, connections)
    except WorkbenchError as exc:
        st.error(plain(str(exc)))
with new:
    models_view.connect_form(wb, me)
