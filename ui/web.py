"""What the app's web server adds to Streamlit's (see `server.py`): security headers on every response, and the
two routes that give the browser its login cookie and take it back, so that the cookie is set by the server:
`HttpOnly` (no script in the page can read it), `SameSite=Strict`, and `Secure` whenever the request came over
HTTPS (directly, or through a proxy that says so in `X-Forwarded-Proto`).

The page never holds the token: after a sign-in, `ui.signin` hands out a one-time code that only this process
knows; a one-line script in the page posts it to `/workbench/session`, which answers with the cookie.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

COOKIE_NAME = "rag_workbench"
SESSION_PATH = "/workbench/session"
SIGN_OUT_PATH = "/workbench/sign-out"
HANDOFF_S = 120  # a code not redeemed by then is worthless
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data: blob:",  # no image from anywhere else: a document or an answer cannot make one load
        "font-src 'self' data:",
        "connect-src 'self'",  # the app's own websocket and uploads only
        "style-src 'self' 'unsafe-inline'",  # Streamlit styles its elements inline
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",  # Streamlit's own bundle (and its charts) need these
        "frame-src 'self' blob: data:",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",  # no other site frames the app (clickjacking)
    ]
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

_codes: dict[str, tuple[str, int, float]] = {}  # one-time code -> (token, max age in seconds, expires at)
_lock = threading.Lock()


def handoff(token: str, max_age: int) -> str:
    """A one-time code the page exchanges for the cookie holding `token` (valid HANDOFF_S seconds)."""
    code = secrets.token_urlsafe(32)
    now = time.monotonic()
    with _lock:
        for stale in [c for c, (_, _, until) in _codes.items() if until < now]:
            del _codes[stale]
        _codes[code] = (token, max_age, now + HANDOFF_S)
    return code


def _redeem(code: str) -> tuple[str, int] | None:
    with _lock:
        found = _codes.pop(code, None)
    if found is None or found[2] < time.monotonic():
        return None
    return found[0], found[1]


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"


async def _session(request: Request) -> Response:
    redeemed = _redeem((await request.body()).decode("ascii", errors="replace").strip())
    if redeemed is None:
        return Response("unknown or used code", status_code=403)
    token, max_age = redeemed
    response = Response(status_code=204)
    response.set_cookie(
        COOKIE_NAME, token, max_age=max_age, path="/", httponly=True, samesite="strict", secure=_secure(request)
    )
    return response


async def _sign_out(request: Request) -> Response:
    response = Response(status_code=204)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict", secure=_secure(request))
    return response


def routes() -> list[Route]:
    return [Route(SESSION_PATH, _session, methods=["POST"]), Route(SIGN_OUT_PATH, _sign_out, methods=["POST"])]


class SecurityHeaders:
    """ASGI middleware: HEADERS on every HTTP response (pages, scripts, uploads, media)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, sending)
