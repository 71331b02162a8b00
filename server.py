"""The app's web server: Streamlit's own (`st.App` running `app.py`), with security headers on every response
(a Content-Security-Policy that keeps images, fonts and connections to the app itself) and the routes that set
the login cookie from the server (HttpOnly). Start it with `streamlit run server.py`.

When the server starts, a thread opens the workbench and loads the stores' models, so that the first sign-in and
the first search after a start do not wait for them."""

import contextlib
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import streamlit as st
from starlette.middleware import Middleware

from ui import web


def _warm_up() -> None:
    """The workbench and its models, imported and loaded off the server's loop, at a lower priority than the pages
    served meanwhile (Linux: a thread has its own nice value)."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    from ui.session import warm_up

    warm_up().join()


@asynccontextmanager
async def lifespan(_app: st.App) -> AsyncIterator[None]:
    threading.Thread(target=_warm_up, name="server-warm-up", daemon=True).start()
    yield


app = st.App("app.py", middleware=[Middleware(web.SecurityHeaders)], routes=web.routes(), lifespan=lifespan)
