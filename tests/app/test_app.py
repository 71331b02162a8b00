"""app.py: the first administrator, signing in, wrong passwords, and what a signed-in user's menu holds."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.workbench import Workbench
from tests.app.conftest import APP, PASSWORD, signed_in, texts


def _login(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="login_name").input(name)
    at.text_input(key="login_password").input(password)
    return at.button(key="FormSubmitter:login_form-Sign in").click().run()  # one click: no component rerun


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
    assert "Wrong user name or password" in at.error[0].value
    assert workbench.users.failed_sign_ins("ana") == 1  # kept by core
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
    at = signed_in(AppTest.from_file(APP, default_timeout=120), workbench, "ana")  # she signed in before...
    workbench.users.set_disabled(workbench.actor("admin"), "ana", True)  # ...an administrator disabled her
    at.run()
    assert not at.exception and "disabled" in at.warning[0].value and "actor" not in at.session_state
    assert [t.value for t in at.title] == ["RAG Workbench"]  # the sign-in form, nothing of hers


def test_a_new_password_ends_the_sessions_begun_before_it(workbench: Workbench) -> None:
    workbench.users.create_first_admin("admin", PASSWORD)
    workbench.users.add(workbench.actor("admin"), "ana", password=PASSWORD)
    tabs = [signed_in(AppTest.from_file(APP, default_timeout=120), workbench, "ana") for _ in range(2)]
    assert tabs[0].run().title[0].value == "Stores"
    workbench.users.set_password(workbench.actor("admin"), "ana", "reset by the admin")
    for tab in tabs:  # the one open on Stores (its page guard refuses) and one that comes back (app.py does)
        tab.run()
        assert "Your session has ended" in texts(tab) and "session" not in tab.session_state
    again = _login(AppTest.from_file(APP, default_timeout=120).run(), "ana", "reset by the admin")
    assert again.title[0].value == "Stores"
