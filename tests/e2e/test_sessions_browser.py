"""Sessions that end when they should, tried as an attacker with a copied login cookie: after the user signs
out, after an administrator resets the password, after the account is disabled and enabled again, and after a
change of role, a copy of the cookie taken before opens nothing in a fresh browser, and the tab left open is
told its session has ended. The first sign-in on a fresh server takes one click."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.config import load_settings
from core.workbench import Workbench
from tests.e2e.conftest import NAV, Server, idle, shot, sign_in

pytestmark = pytest.mark.slow
PASSWORD = "analyst-password-1"
COOKIE = "rag_workbench"


def _cookie(page: Any, before: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The login cookie this browser holds, once the page has written it (a new one, if it held `before`)."""
    old = f"{COOKIE}={before[0]['value']}" if before else ""
    page.wait_for_function(
        "([name, old]) => document.cookie.includes(name + '=') && !(old && document.cookie.includes(old))",
        arg=[COOKIE, old],
    )
    return [c for c in page.context.cookies() if c["name"] == COOKIE]


def _opens_with(browser: Any, url: str, cookie: list[dict[str, Any]]) -> str:
    """What a fresh browser holding only this cookie is shown: 'Stores' (signed in) or 'Sign in'."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        context.add_cookies(cookie)
        page = context.new_page()
        page.goto(url)
        stores, form = page.get_by_role("heading", name="Stores"), page.get_by_role("button", name="Sign in")
        stores.or_(form).first.wait_for(timeout=60_000)
        idle(page)
        return "Stores" if stores.count() else "Sign in"
    finally:
        context.close()


def _told_ended(page: Any) -> None:
    """The tab left open: its next click is refused and it is back at the sign-in form, saying why."""
    page.locator(NAV, has_text="Documents").click()
    page.get_by_text("Your session has ended").first.wait_for()
    page.get_by_role("button", name="Sign in").wait_for()


def test_a_copied_cookie_stops_working_when_the_session_ends(tmp_path: Path, browser: Any, page: Any) -> None:
    server = Server(tmp_path / "data", env={"WORKBENCH_ADMIN_PASSWORD": PASSWORD})
    try:
        wb = Workbench(
            load_settings(env={"WORKBENCH_DATA_DIR": str(tmp_path / "data")}, secrets_file=tmp_path / "none")
        )
        admin = wb.actor("admin")
        wb.users.add(admin, "ana", password=PASSWORD)

        sign_in(page, server.url, "ana", PASSWORD)  # the first sign-in after a start: one click
        copy = _cookie(page)
        assert copy[0]["sameSite"] == "Strict" and not copy[0]["secure"]  # plain http here: see the README
        assert _opens_with(browser, server.url, copy) == "Stores"  # a copy signs in while the session holds

        page.get_by_role("button", name="Sign out").click()
        page.get_by_role("button", name="Sign in").wait_for()
        idle(page)
        shot(page, "sessions-signed-out")
        assert _opens_with(browser, server.url, copy) == "Sign in"

        ended = {
            "reset": lambda: wb.users.set_password(admin, "ana", PASSWORD),
            "disabled-and-enabled": lambda: (
                wb.users.set_disabled(admin, "ana", True),
                wb.users.set_disabled(admin, "ana", False),
            ),
            "made-administrator": lambda: wb.users.set_admin(admin, "ana", True),
        }
        for what, end in ended.items():
            sign_in(page, server.url, "ana", PASSWORD)
            copy = _cookie(page, before=copy)
            assert _opens_with(browser, server.url, copy) == "Stores", what  # the copy works until...
            end()
            _told_ended(page)
            shot(page, f"sessions-ended-{what}")
            assert _opens_with(browser, server.url, copy) == "Sign in", what
    finally:
        server.stop()
