"""What the Streamlit pages share: the cached workbench and the sign-in guard, the search-settings widgets, the
chat's message view, and the few HTML blocks the pages draw themselves. Streamlit lives here and in app.py, pages/."""
