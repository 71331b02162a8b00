"""The app's web server: Streamlit's own (`st.App` running `app.py`), with security headers on every response
(a Content-Security-Policy that keeps images, fonts and connections to the app itself) and the routes that set
the login cookie from the server (HttpOnly). Start it with `streamlit run server.py`.

Once the server has drawn its first page (or a few seconds after it starts), a thread opens the workbench and loads
the stores' models and indexes, so that the first search after a start does not wait for them."""

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import streamlit as st
from starlette.middleware import Middleware

from ui import web

FIRST_PAGE_GRACE_S = 3.0  # the models load once the first page is drawn, or this long after the start


def _warm_up() -> None:
    """The workbench opened, its models loaded and its stores opened once the first page is drawn or a few seconds
    have passed: doing it while the first visitor's sign-in page was being drawn made that half a second slower
    (bench/app_timings.py)."""
    from ui.session import first_page, warm_up

    first_page.wait(FIRST_PAGE_GRACE_S)
    warm_up().join()


@asynccontextmanager
async def lifespan(_app: st.App) -> AsyncIterator[None]:
    threading.Thread(target=_warm_up, name="server-warm-up", daemon=True).start()
    yield


app = st.App("app.py", middleware=[Middleware(web.SecurityHeaders)], routes=web.routes(), lifespan=lifespan)
