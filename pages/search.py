"""Search playground: try retrieval settings on your stores, and compare two settings side by side.

Everything below the title is one fragment: typing a query or moving a slider reruns only the playground,
not the whole app with its sign-in check and menu.
"""

import time

import streamlit as st

from core.compare import placed, vanished
from core.errors import WorkbenchError
from core.options import Filters, SearchOptions
from core.records import Role
from ui.results import card
from ui.search_settings import search_settings
from ui.session import signed_in

wb, me = signed_in()
st.title("Search")
summaries = wb.stores.visible(me)
if not summaries:
    st.info("No store to search yet: create one on the Stores page, or ask an owner to share one.")
    st.stop()
EDITABLE = {s.store.name for s in summaries if s.role.rank >= Role.EDITOR.rank}


def filters_form(stores: list[str]) -> Filters:
    with st.expander("Filters", icon=":material/filter_alt:"):
        names = sorted({d.filename for name in stores for d in wb.documents.of(me, name)})
        chosen = st.multiselect("Only these documents", names, key="search_documents")
        types = sorted({n.rsplit(".", 1)[-1].lower() for n in names if "." in n})
        kinds = st.multiselect("Only these file types", types, key="search_types")
        first, last = st.columns(2)
        after = first.date_input("Uploaded from", value=None, key="search_after")
        before = last.date_input("Uploaded before", value=None, key="search_before")
        metadata = st.text_input("Metadata (key=value, comma-separated)", key="search_metadata", placeholder="team=hr")
        try:
            return Filters.from_form(chosen, kinds, after, before, metadata)
        except WorkbenchError as exc:
            st.error(str(exc))
            return Filters()


@st.fragment
def playground() -> None:
    wb, me = signed_in()  # a fragment reruns alone: who is acting is checked again here
    readable = [s.store.name for s in summaries]
    stores = st.multiselect("Stores", readable, default=readable[:1], key="search_stores")
    query = st.text_input("Query", key="search_query", placeholder="e.g. dividend per share approved by the board")
    compare = st.toggle("Compare two settings side by side", key="search_compare")
    filters = filters_form(stores)
    saved = wb.stores.search_defaults(me, stores[0]) if stores else SearchOptions()
    columns = st.columns(2) if compare else [st.container()]
    sides, options = ["a", "b"][: len(columns)], {}
    for side, column in zip(sides, columns, strict=True):
        with column, st.expander(f"Settings {side.upper()}" if compare else "Settings", expanded=True):
            try:
                chosen = [s for s in summaries if s.store.name in stores]
                options[side] = search_settings(wb, saved, side, filters=filters, stores=chosen)
            except WorkbenchError as exc:
                st.error(str(exc))
    label = (
        f"Save settings{' A' if compare else ''} as the default for '{stores[0]}' (chat uses them)" if stores else ""
    )
    if len(stores) == 1 and stores[0] in EDITABLE and "a" in options and st.button(label, key="save_defaults"):
        wb.stores.set_search_defaults(me, stores[0], options["a"])
        st.toast(f"Saved as the default retrieval settings of '{stores[0]}'.")
    if not query.strip() or not stores or len(options) < len(sides):
        return
    results, took = {}, {}
    for side in sides:
        started = time.perf_counter()
        try:
            results[side] = wb.search.run(me, stores, query, options=options[side])
        except WorkbenchError as exc:
            st.error(str(exc))
            return
        took[side] = (time.perf_counter() - started) * 1000
    for side, column in zip(sides, columns, strict=True):
        other = results["b" if side == "a" else "a"] if compare else results[side]
        with column:
            st.caption(f"{len(results[side])} results in {took[side]:.0f} ms for “{query.strip()}”")
            if not results[side]:
                st.info("No match. Try other words, another mode, or a lower minimum score.")
            for item in placed(results[side], other):
                card(wb, me, item, side, query, compare=compare, several=len(stores) > 1)
            if compare and (gone := vanished(results[side], other)):
                st.caption("Not in this list: " + ", ".join(f"{h.filename} {h.location or ''}".strip() for h in gone))


playground()
