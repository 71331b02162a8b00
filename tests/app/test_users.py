"""Users page (administrators) and Account page (everyone)."""

from __future__ import annotations

import pytest

from core.errors import NotSignedIn
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


def test_an_api_key_is_shown_once_listed_by_its_prefix_and_revoked(workbench: Workbench) -> None:
    workbench.users.create_first_admin("admin", PASSWORD)
    workbench.users.add(workbench.actor("admin"), "ana", password=PASSWORD)
    at = page_as(workbench, "account", "ana").run()
    assert "You have no API keys yet." in texts(at)
    at.text_input(key="key_name").input("reporting notebook")
    at.selectbox(key="key_expiry").set_value("30 days")
    at.button[1].click().run()  # Make a key (the password form's button comes first)
    assert not at.exception
    secret = at.session_state["new_api_key"]
    assert secret.startswith("rwk_") and any(c.value == secret for c in at.code)
    assert "Copy it now: it will not be shown again." in texts(at)
    assert workbench.keys.authenticate(secret).name == "ana"
    listed = at.dataframe[0].value
    assert list(listed["Name"]) == ["reporting notebook"] and list(listed["State"]) == ["active"]
    assert listed["Key starts with"][0] == secret[:12] + "…" and secret not in listed.to_string()
    at.button(key="forget_new_key").click().run()
    assert not any(secret in str(c.value) for c in at.code)  # gone for good once copied
    at.selectbox(key="revoke_key").select_index(0).run()
    at.button(key="revoke_key_button").click().run()
    assert list(at.dataframe[0].value["State"]) == ["revoked"]
    with pytest.raises(NotSignedIn, match="revoked"):
        workbench.keys.authenticate(secret)
    admin = page_as(workbench, "account", "admin").run()
    everyone = admin.dataframe[-1].value
    assert list(everyone["User"]) == ["ana"]  # administrators see everyone's keys
