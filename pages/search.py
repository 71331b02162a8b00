"""Search playground: try retrieval settings on your stores, and compare two settings side by side.

Everything below the title is one fragment: typing a query or moving a slider reruns only the playground,
not the whole app with its sign-in check and menu.
"""

import time

import streamlit as st

from core.compare import placed, vanished
from core.errors import WorkbenchError
from core.options import SearchOptions
from core.records import Role
from ui.html import plain
from ui.results import card, missing
from ui.search_settings import filters_form, search_settings
from ui.session import signed_in

wb, me = signed_in()
st.title("Search")
summaries = wb.stores.visible(me)
if not summaries:
    st.info("No store to search yet: create one on the Stores page, or ask an owner to share one.")
    st.stop()
EDITABLE = {s.store.name for s in summaries if s.role.rank >= Role.EDITOR.rank}


FILTER_KEYS = ("search_documents", "search_types", "search_after", "search_before", "search_metadata")


@st.fragment
def playground() -> None:
    """Settings and filters sit in pop-overs above the results, so that the results fill the first screen."""
    started = time.perf_counter()
    wb, me = signed_in()  # a fragment reruns alone: who is acting is checked again here
    readable = [s.store.name for s in summaries]
    top = st.columns([4, 1], vertical_alignment="bottom")
    stores = top[0].multiselect("Stores", readable, default=readable[:1], key="search_stores")
    compare = top[1].toggle("Compare two settings", key="search_compare")
    query = st.text_input("Query", key="search_query", placeholder="e.g. dividend per share approved by the board")
    sides, options = ["a", "b"][: 1 + compare], {}
    bar = st.columns([1, 1, 1, 3] if compare else [1, 1, 4], vertical_alignment="center")
    used = sum(bool(st.session_state.get(k)) for k in FILTER_KEYS)
    with bar[0].popover(f"Filters ({used})" if used else "Filters", icon=":material/filter_alt:", width="stretch"):
        filters = filters_form(wb, me, stores)
    saved = wb.stores.search_defaults(me, stores[0]) if stores else SearchOptions()
    for place, side in zip(bar[1:], sides, strict=False):
        with place.popover(
            f"Settings {side.upper()}" if compare else "Settings", icon=":material/tune:", width="stretch"
        ):
            try:
                chosen = [s for s in summaries if s.store.name in stores]
                options[side] = search_settings(wb, me, saved, side, filters=filters, stores=chosen)
            except WorkbenchError as exc:
                st.error(plain(str(exc)))
            savable = side == "a" and len(stores) == 1 and stores[0] in EDITABLE and "a" in options
            if savable and st.button(
                f"Save as the default for '{plain(stores[0])}' (chat uses it)", key="save_defaults"
            ):
                wb.stores.set_search_defaults(me, stores[0], options["a"])
                st.toast(f"Saved as the default retrieval settings of '{plain(stores[0])}'.")
    bar[-1].caption(
        " · ".join(f"{s.upper() + ': ' if compare else ''}{o.describe()}, top {o.top_k}" for s, o in options.items())
    )
    if not query.strip() or not stores or len(options) < len(sides):
        return
    results, took = {}, {}
    for side in sides:
        clock = time.perf_counter()
        try:
            results[side] = wb.search.run(me, stores, query, options=options[side])
        except WorkbenchError as exc:
            st.error(plain(str(exc)))
            return
        took[side] = (time.perf_counter() - clock) * 1000
    columns = st.columns(2) if compare else [st.container()]
    for side, column in zip(sides, columns, strict=True):
        other = results["b" if side == "a" else "a"] if compare else results[side]
        with column:
            caption = st.empty()
            if not results[side]:
                st.info("No match. Try other words, another mode, or a lower minimum score.")
            for item in placed(results[side], other):
                card(wb, me, item, side, query, compare=compare, several=len(stores) > 1)
            if compare and (gone := vanished(results[side], other)):
                missing(gone)
            waited = time.perf_counter() - started  # from the key press reaching the server to the last card drawn
            caption.caption(
                f"{len(results[side])} result{'s' * (len(results[side]) != 1)} in {waited:.2f} s (search {took[side]:.0f} ms) for “{plain(query.strip())}”"
            )


playground()
