"""RAG Workbench: the Streamlit entry point (logging, page config, navigation)."""

import logging

import streamlit as st

import core  # noqa: F401  (sets the offline environment before any model library loads)

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

st.set_page_config(page_title="RAG Workbench", page_icon=":material/library_books:", layout="wide")

navigation = st.navigation(
    {
        "Workbench": [
            st.Page("pages/home.py", title="Stores", icon=":material/database:", default=True),
        ],
    }
)
navigation.run()
