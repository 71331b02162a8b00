"""app.py: the first administrator, signing in, wrong passwords, and what a signed-in user's menu holds."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.workbench import Workbench
from tests.app.conftest import APP, PASSWORD, texts


def _login(at: AppTest, name: str, password: str) -> AppTest:
    next(box for box in at.text_input if box.label == "Username").input(name)
    next(box for box in at.text_input if box.label == "Password").input(password)
    at.button(key="FormSubmitter:login_form-Login").click().run()
    return at.run()  # the authenticator's component answers on the next run


def test_a_new_installation_asks_for_the_first_administrator(data_dir: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception and at.title[0].value == "Welcome to RAG Workbench"
    at.text_input(key="first_admin_password").input(PASSWORD)
    at.text_input(key="first_admin_repeat").input("something else")
    at.button(key="FormSubmitter:first_admin-Create administrator").click().run()
    assert "The two passwords differ" in at.error[0].value
    at.text_input(key="first_admin_password").input(PASSWORD)
    at.text_input(key="first_admin_repeat").input(PASSWORD)
    at.button(key="FormSubmitter:first_admin-Create administrator").click().run()
    assert not at.exception and at.title[0].value == "RAG Workbench"  # the sign-in form now


def test_signing_in_opens_the_stores_page_and_wrong_passwords_are_refused(workbench: Workbench) -> None:
    workbench.users.create_first_admin("admin", PASSWORD)
    workbench.users.add(workbench.actor("admin"), "ana", password=PASSWORD)
    at = AppTest.from_file(APP, default_timeout=120).run()
    _login(at, "ana", "not her password")
    assert "Wrong user name or password." in texts(at)
    assert workbench.users.login_credentials()["usernames"]["ana"]["failed_login_attempts"] == 1  # kept by core
    _login(at, "ana", PASSWORD)
    assert not at.exception and at.title[0].value == "Stores"
    assert "**ana** · user" in texts(at) and "Users" not in [link.label for link in at.get("page_link")]


def test_an_administrator_gets_the_users_page_too(workbench: Workbench) -> None:
    workbench.users.create_first_admin("admin", PASSWORD)
    at = _login(AppTest.from_file(APP, default_timeout=120).run(), "admin", PASSWORD)
    assert "Users" in [link.label for link in at.get("page_link")]


def test_a_user_disabled_mid_session_is_signed_out(workbench: Workbench) -> None:
    workbench.users.create_first_admin("admin", PASSWORD)
    workbench.users.add(workbench.actor("admin"), "ana", password=PASSWORD)
    workbench.users.set_disabled(workbench.actor("admin"), "ana", True)
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in {"authentication_status": True, "username": "ana", "name": "ana"}.items():
        at.session_state[key] = value  # a session that signed in before the account was disabled
    at.run()
    assert not at.exception and "disabled" in at.error[0].value and "wb" not in at.session_state
    assert not at.title  # no page rendered
