"""The app's web server: Streamlit's own (`st.App` running `app.py`), with security headers on every response
(a Content-Security-Policy that keeps images, fonts and connections to the app itself) and the routes that set
the login cookie from the server (HttpOnly). Start it with `streamlit run server.py`."""

import streamlit as st
from starlette.middleware import Middleware

from ui import web

app = st.App("app.py", middleware=[Middleware(web.SecurityHeaders)], routes=web.routes())
