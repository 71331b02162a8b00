"""Users page (administrators) and Account page (everyone)."""

from __future__ import annotations

from core.workbench import Workbench
from tests.app.conftest import PASSWORD, page_as, texts
from tests.conftest import sign_in


def test_an_administrator_adds_disables_and_resets(workbench: Workbench) -> None:
    workbench.users.create_first_admin("admin", PASSWORD)
    at = page_as(workbench, "users", "admin").run()
    at.text_input(key="add_user_name").input("ana")
    at.text_input(key="add_user_password").input(PASSWORD)
    at.button(key="FormSubmitter:add_user-Add user").click().run()
    assert not at.exception and "ana" in [u.name for u in workbench.users.all(workbench.actor("admin"))]
    at = page_as(workbench, "users", "admin").run()
    assert "ana" in at.dataframe[0].value["User"].tolist()
    at.selectbox(key="change_user").set_value("ana").run()
    at.button(key="toggle_disabled").click().run()
    assert workbench.catalog.get_user("ana").disabled
    at.text_input(key="reset_password_value").input("a brand new secret")
    at.button(key="FormSubmitter:reset_password-Reset password").click().run()
    workbench.users.set_disabled(workbench.actor("admin"), "ana", False)
    assert sign_in(workbench, "ana", "a brand new secret") == "ana"


def test_someone_else_gets_an_empty_users_page(workbench: Workbench) -> None:
    workbench.users.create_first_admin("admin", PASSWORD)
    workbench.users.add(workbench.actor("admin"), "ana", password=PASSWORD)
    at = page_as(workbench, "users", "ana").run()
    assert not at.exception and not at.title and not at.dataframe


def test_a_user_changes_their_own_password(workbench: Workbench) -> None:
    workbench.users.create_first_admin("admin", PASSWORD)
    workbench.users.add(workbench.actor("admin"), "ana", password=PASSWORD)
    at = page_as(workbench, "account", "ana").run()
    at.text_input(key="current_password").input("not it")
    at.text_input(key="new_password").input("another good secret")
    at.text_input(key="repeat_password").input("another good secret")
    at.button(key="FormSubmitter:change_password-Change password").click().run()
    assert "current password is not right" in texts(at)
    at.text_input(key="current_password").input(PASSWORD)
    at.text_input(key="new_password").input("another good secret")
    at.text_input(key="repeat_password").input("another good secret")
    at.button(key="FormSubmitter:change_password-Change password").click().run()
    assert "Your password is changed" in texts(at)
    assert sign_in(workbench, "ana", "another good secret") == "ana"
