"""The app server's additions (ui/web.py), through a real HTTP client: security headers, and a login cookie the
server sets (HttpOnly, Secure behind HTTPS) for a one-time code only."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from ui import web


def _client() -> TestClient:
    page = Route("/", lambda request: PlainTextResponse("the app"))
    return TestClient(Starlette(routes=[page, *web.routes()], middleware=[Middleware(web.SecurityHeaders)]))


def test_every_response_carries_the_security_headers() -> None:
    response = _client().get("/")
    assert response.headers["content-security-policy"] == web.CONTENT_SECURITY_POLICY
    assert (
        "img-src 'self' data: blob:" in web.CONTENT_SECURITY_POLICY
        and "frame-ancestors 'self'" in web.CONTENT_SECURITY_POLICY
    )
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_code_buys_one_httponly_cookie_and_only_once() -> None:
    client = _client()
    code = web.handoff("the-signed-token", 3600)
    answer = client.post(web.SESSION_PATH, content=code)
    cookie = answer.headers["set-cookie"]
    assert answer.status_code == 204 and cookie.startswith(f"{web.COOKIE_NAME}=the-signed-token")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=3600" in cookie and "Secure" not in cookie
    assert client.post(web.SESSION_PATH, content=code).status_code == 403  # spent
    assert client.post(web.SESSION_PATH, content="made-up").status_code == 403
    behind_tls = client.post(web.SESSION_PATH, content=web.handoff("t", 60), headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in behind_tls.headers["set-cookie"]


def test_signing_out_clears_the_cookie() -> None:
    cleared = _client().post(web.SIGN_OUT_PATH).headers["set-cookie"]
    assert cleared.startswith(f'{web.COOKIE_NAME}=""') and "Max-Age=0" in cleared and "HttpOnly" in cleared
