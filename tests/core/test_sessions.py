"""Signing in and browser sessions: a lockout that parallel tries cannot outrun, unknown names that cost and read
the same as known ones, and sessions that end on sign-out, a new password, disabling and a change of role."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core import access
from core.config import load_settings
from core.errors import NotSignedIn, PermissionDenied, WorkbenchError
from core.workbench import Workbench

PASSWORD = "correct horse battery"
TRIES = 24  # six browsers, four rounds: the probe that ended at a count of 4 before


@pytest.fixture
def wb(any_database: str, tmp_path: Path) -> Workbench:
    """A workbench on SQLite or a real PostgreSQL catalog, with one user, eve."""
    settings = load_settings(env={}, secrets_file=tmp_path / "none.toml", data_dir=tmp_path / "data")
    workbench = Workbench(settings.replace(database_url=any_database))
    workbench.users.add(workbench.actor("admin"), "eve", password=PASSWORD)
    return workbench


def _answer(wb: Workbench, name: str, password: str) -> str:
    try:
        return wb.users.sign_in(name, password).name
    except WorkbenchError as exc:
        return str(exc)


@pytest.mark.parametrize("name", ["eve", "nobody-by-this-name"])
def test_parallel_wrong_passwords_lock_after_exactly_five_checks(
    wb: Workbench, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[str] = []
    real = access.password_matches

    def counted(password: str, hashed: str | None) -> bool:
        checks.append(password)
        return real(password, hashed)

    monkeypatch.setattr(access, "password_matches", counted)
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda n: _answer(wb, name, f"guess {n}"), range(TRIES)))
    assert len(checks) == access.MAX_LOGIN_FAILURES  # each try counted before its check, atomically
    assert answers.count(access.WRONG_SIGN_IN) == access.MAX_LOGIN_FAILURES - 1
    assert answers.count(access.LOCKED_OUT) == TRIES - access.MAX_LOGIN_FAILURES + 1
    assert _answer(wb, name, PASSWORD) == access.LOCKED_OUT  # even the right password waits
    assert wb.users.failed_sign_ins(name) == TRIES + 1


def test_a_known_and_an_unknown_name_cost_one_bcrypt_check_each_and_read_the_same(
    wb: Workbench, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bcrypt

    checked: list[bytes] = []
    real = bcrypt.checkpw
    monkeypatch.setattr(bcrypt, "checkpw", lambda pw, hashed: checked.append(hashed) or real(pw, hashed))
    assert _answer(wb, "eve", "a wrong one") == _answer(wb, "mallory", "a wrong one") == access.WRONG_SIGN_IN
    assert len(checked) == 2 and all(h.startswith(b"$2b$12$") for h in checked)  # the same cost for both


def test_a_new_password_unlocks_and_a_success_clears_the_count(wb: Workbench) -> None:
    for _ in range(access.MAX_LOGIN_FAILURES):
        _answer(wb, "eve", "guess")
    assert _answer(wb, "eve", PASSWORD) == access.LOCKED_OUT
    wb.users.set_password(wb.actor("admin"), "eve", "a fresh start now")
    assert _answer(wb, "eve", "a fresh start now") == "eve"
    _answer(wb, "eve", "one slip")
    assert _answer(wb, "EVE ", "a fresh start now") == "eve" and wb.users.failed_sign_ins("eve") == 0


def test_a_session_resumes_from_its_cookie_until_it_is_ended(wb: Workbench) -> None:
    admin = wb.actor("admin")
    ends = {
        "sign-out": lambda: wb.users.sign_out(wb.actor("eve")),
        "password reset": lambda: wb.users.set_password(admin, "eve", "reset by the admin"),
        "password change": lambda: wb.users.set_password(
            wb.actor("eve"), "eve", PASSWORD, current="reset by the admin"
        ),
        "disabled, then enabled": lambda: (
            wb.users.set_disabled(admin, "eve", True),
            wb.users.set_disabled(admin, "eve", False),
        ),
        "made administrator": lambda: wb.users.set_admin(admin, "eve", True),
        "administrator no more": lambda: wb.users.set_admin(admin, "eve", False),
    }
    for what, end in ends.items():
        password = "reset by the admin" if what == "password change" else PASSWORD
        session = wb.users.sign_in("eve", password)
        assert wb.users.resume(session.token) == session, what
        wb.actor("eve", since=session.started_at)  # the open tab goes on...
        end()
        assert wb.users.resume(session.token) is None, what  # ...the copied cookie no longer signs in
        with pytest.raises(NotSignedIn, match="Your session has ended"):
            wb.actor("eve", since=session.started_at)  # ...and the open tab is refused on its next run


def test_renewing_keeps_the_tab_that_changed_its_own_password(wb: Workbench) -> None:
    session = wb.users.sign_in("eve", PASSWORD)
    wb.users.set_password(wb.actor("eve"), "eve", "my own new one", current=PASSWORD)
    renewed = wb.users.renew(wb.actor("eve"))
    assert wb.users.resume(session.token) is None and wb.users.resume(renewed.token) == renewed


def test_forged_foreign_expired_and_malformed_tokens_sign_nobody_in(wb: Workbench, tmp_path: Path) -> None:
    key = wb.users.cookie_key()
    now = datetime.now(UTC)
    tokens = {
        "foreign key": access.session_token("eve", now, key="the cookie key of another installation"),
        "expired": access.session_token("eve", now - access.SESSION_LENGTH - timedelta(seconds=1), key=key),
        "unknown user": access.session_token("ghost", now, key=key),
        "malformed": "not.a.token",
        "tampered": access.session_token("eve", now, key=key)[:-2] + "xx",
    }
    for what, token in tokens.items():
        assert wb.users.resume(token) is None, what
    assert wb.users.resume(access.session_token("eve", now, key=key)) is not None  # the control


def test_a_disabled_account_is_told_only_with_its_right_password(wb: Workbench) -> None:
    wb.users.set_disabled(wb.actor("admin"), "eve", True)
    assert _answer(wb, "eve", "a wrong one") == access.WRONG_SIGN_IN
    with pytest.raises(PermissionDenied, match="disabled"):
        wb.users.sign_in("eve", PASSWORD)
