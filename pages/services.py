"""The one cached composition root shared by every page and session."""

import streamlit as st

from core.workbench import Workbench


@st.cache_resource(show_spinner="Opening the workbench…")
def services() -> Workbench:
    return Workbench()
