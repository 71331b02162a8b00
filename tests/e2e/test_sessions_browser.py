"""Sessions that end when they should, tried as an attacker with a copied login cookie: after the user signs
out, after an administrator resets the password, after the account is disabled and enabled again, and after a
change of role, a copy of the cookie taken before opens nothing in a fresh browser, and the tab left open is
told its session has ended. The first sign-in on a fresh server takes one click."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import NAV, Server, idle, shot, sign_in, workbench_of

pytestmark = pytest.mark.slow
PASSWORD = "analyst-password-1"
COOKIE = "rag_workbench"


def _cookie(page: Any, before: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The login cookie this browser holds, once the server has set it (a new one, if it held `before`)."""
    old = before[0]["value"] if before else None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        held = [c for c in page.context.cookies() if c["name"] == COOKIE and c["value"] != old]
        if held:
            return held
        page.wait_for_timeout(100)
    raise AssertionError("the server never set the login cookie")


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
        wb = workbench_of(tmp_path / "data")
        admin = wb.actor("admin")
        wb.users.add(admin, "ana", password=PASSWORD)

        sign_in(page, server.url, "ana", PASSWORD)  # the first sign-in after a start: one click
        copy = _cookie(page)
        assert copy[0]["httpOnly"] and copy[0]["sameSite"] == "Strict"  # set by the server; no script reads it
        assert not copy[0]["secure"]  # plain http here; over HTTPS (or behind a TLS proxy) it is Secure
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


def test_six_browsers_guessing_at_once_lock_the_name(tmp_path: Path, browser: Any) -> None:
    """The probe that never locked before: six sessions, four rounds of wrong passwords submitted together."""
    server = Server(tmp_path / "data", env={"WORKBENCH_ADMIN_PASSWORD": PASSWORD})
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(6)]
    try:
        wb = workbench_of(tmp_path / "data")
        wb.users.add(wb.actor("admin"), "ana", password=PASSWORD)
        pages = [context.new_page() for context in contexts]
        for page in pages:
            page.goto(server.url)
            page.get_by_role("button", name="Sign in").wait_for(timeout=60_000)
            idle(page)
        for round_ in range(4):
            for n, page in enumerate(pages):
                page.get_by_label("Username", exact=True).fill("ana")
                page.get_by_label("Password", exact=True).fill(f"guess {round_}-{n}")
            for page in pages:  # all six submitted before any answer
                page.get_by_role("button", name="Sign in").click()
            deadline = time.monotonic() + 120  # every try of this round counted (the messages may be last round's)
            while wb.users.failed_sign_ins("ana") < 6 * (round_ + 1) and time.monotonic() < deadline:
                time.sleep(0.1)
            for page in pages:
                page.get_by_text(re.compile("Wrong user name or password|Too many failed sign-ins")).wait_for()
                idle(page)
        pages[0].get_by_label("Username", exact=True).fill("ana")
        pages[0].get_by_label("Password", exact=True).fill(PASSWORD)
        pages[0].get_by_role("button", name="Sign in").click()
        pages[0].get_by_text("Too many failed sign-ins").wait_for()  # even the right password waits now
        shot(pages[0], "sessions-locked-after-parallel-guesses")
        assert wb.users.failed_sign_ins("ana") == 25
    finally:
        for context in contexts:
            context.close()
        server.stop()
