"""Stores page: create, list, share; a viewer sees no management; a stranger does not see the store."""

from __future__ import annotations

from core.records import Role
from core.workbench import Workbench
from tests.app.conftest import PASSWORD, page_as, texts


def _team(workbench: Workbench) -> Workbench:
    workbench.users.create_first_admin("admin", PASSWORD)
    for name in ("olivia", "vic", "sam"):
        workbench.users.add(workbench.actor("admin"), name, password=PASSWORD)
    return workbench


def test_an_owner_creates_a_store_and_shares_it(workbench: Workbench) -> None:
    _team(workbench)
    at = page_as(workbench, "stores", "olivia").run()
    assert "No stores yet" in texts(at)
    at.text_input(key="new_store_name").input("finance")
    at.text_input(key="new_store_description").input("Annual reports")
    at.button(key="FormSubmitter:create_store-Create store").click().run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table.to_dict("records")[0]["Store"] == "finance" and table.to_dict("records")[0]["Your role"] == "owner"
    workbench.groups.create(workbench.actor("admin"), "analysts")
    workbench.groups.add_member(workbench.actor("admin"), "analysts", "sam")
    at.run()
    assert at.multiselect(key="share_with").options == ["group: analysts", "admin", "sam", "vic"]  # a picker
    at.button(key="FormSubmitter:share-Share").click().run()
    assert "Pick at least one person or group" in at.error[0].value
    at.multiselect(key="share_with").set_value(["vic", "group: analysts"])
    at.radio(key="share_role").set_value("viewer")
    at.button(key="FormSubmitter:share-Share").click().run()
    assert not at.exception
    assert [(g.user, g.role) for g in workbench.stores.grants(workbench.actor("olivia"), "finance")] == [
        ("vic", Role.VIEWER)
    ]
    access = next(d.value for d in at.dataframe if "Through" in d.value.columns)  # the same run shows the share
    assert access.to_dict("records") == [
        {"User": "olivia", "Role": "owner", "Through": "owner"},
        {"User": "sam", "Role": "viewer", "Through": "group analysts"},
        {"User": "vic", "Role": "viewer", "Through": "shared directly"},
    ]
    at.selectbox(key="revoke_user").set_value("group: analysts")
    at.button(key="revoke").click().run()
    assert workbench.stores.visible(workbench.actor("sam")) == []


def test_an_administrator_makes_a_group_and_chooses_its_members(workbench: Workbench) -> None:
    _team(workbench)
    at = page_as(workbench, "users", "admin").run()
    at.text_input(key="add_group_name").input("analysts")
    at.button(key="FormSubmitter:add_group-Create group").click().run()
    at.multiselect(key="members_analysts").set_value(["olivia", "vic"])
    at.button(key="save_members").click().run()
    assert not at.exception
    assert [(g.name, g.members) for g in workbench.groups.all(workbench.actor("vic"))] == [
        ("analysts", ("olivia", "vic"))
    ]
    assert at.dataframe[-1].value.to_dict("records") == [{"Group": "analysts", "Members": "olivia, vic"}]


def test_a_viewer_sees_the_store_but_not_its_management_and_a_stranger_sees_nothing(workbench: Workbench) -> None:
    _team(workbench)
    workbench.stores.create(workbench.actor("olivia"), "finance")
    workbench.stores.grant(workbench.actor("olivia"), "finance", "vic", Role.VIEWER)
    viewer = page_as(workbench, "stores", "vic").run()
    assert viewer.dataframe[0].value["Store"].tolist() == ["finance"]
    assert "You are a viewer of 'finance'" in texts(viewer) and not viewer.tabs
    stranger = page_as(workbench, "stores", "sam").run()
    assert "No stores yet" in texts(stranger) and not stranger.dataframe


def test_deleting_needs_the_name_typed(workbench: Workbench) -> None:
    _team(workbench)
    workbench.stores.create(workbench.actor("olivia"), "finance")
    at = page_as(workbench, "stores", "olivia").run()
    assert at.button(key="delete_store").disabled
    at.text_input(key="delete_confirm").input("finance").run()
    at.button(key="delete_store").click().run()
    assert not at.exception and workbench.stores.visible(workbench.actor("olivia")) == []


def test_a_page_opened_without_a_user_shows_nothing(workbench: Workbench) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import ROOT

    for page in ("stores", "upload", "documents", "account", "users"):
        at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=60).run()
        assert not at.exception and not at.title and not at.main.children, page


def test_an_owner_rebuilds_with_another_embedding_model(
    workbench: Workbench, fake_embedding_provider: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from core.ingest import Upload
    from core.models import ModelRegistry

    _team(workbench)
    workbench.stores.create(workbench.actor("olivia"), "finance")
    workbench.documents.ingest(workbench.actor("olivia"), "finance", [Upload("a.txt", b"Pump repair steps.")])
    models = tmp_path / "models.yaml"
    models.write_text(
        f"model_list:\n  - model_name: remote\n    litellm_params: {{model: {fake_embedding_provider}}}\n    model_info: {{mode: embedding}}\n"
    )
    workbench.services.models = ModelRegistry.load(models)
    at = page_as(workbench, "stores", "olivia").run()
    at.selectbox(key="rebuild_model").set_value("remote").run()
    at.button(key="rebuild").click().run()
    assert not at.exception and "'finance' now uses remote." in texts(at)
    assert workbench.stores.get(workbench.actor("olivia"), "finance").embedding_dim == 16


def test_an_owner_keeps_personal_data_from_remote_models(workbench: Workbench) -> None:
    _team(workbench)
    workbench.stores.create(workbench.actor("olivia"), "letters")
    at = page_as(workbench, "stores", "olivia").run()
    assert not at.toggle(key="redact_toggle").value
    at.toggle(key="redact_toggle").set_value(True).run()
    assert not at.exception and workbench.catalog.get_store("letters").redact_personal_data
    at.toggle(key="redact_toggle").set_value(False).run()
    assert not workbench.catalog.get_store("letters").redact_personal_data


def test_an_owner_adds_the_stores_own_measures_and_a_bad_line_is_explained(workbench: Workbench) -> None:
    _team(workbench)
    workbench.stores.create(workbench.actor("olivia"), "saas")
    at = page_as(workbench, "stores", "olivia").run()
    at.text_area(key="glossary_text").input("ARR = annual recurring revenue; subscription revenue").run()
    at.button(key="glossary_save").click().run()
    assert not at.exception
    assert workbench.catalog.get_store("saas").glossary == {"ARR": "annual recurring revenue; subscription revenue"}
    at.text_area(key="glossary_text").input("ARR").run()
    at.button(key="glossary_save").click().run()
    assert any("Line 1 of the glossary should read" in e.value for e in at.error)
    assert workbench.catalog.get_store("saas").glossary  # nothing lost


def test_an_owner_sets_the_checks_and_an_administrator_the_limits(workbench: Workbench) -> None:
    _team(workbench)
    workbench.stores.create(workbench.actor("olivia"), "filings")
    at = page_as(workbench, "stores", "olivia").run()
    assert at.selectbox(key="policy_injection").value == "block" and at.number_input(key="policy_tokens_per_day_key").disabled  # fmt: skip
    at.selectbox(key="policy_safety").set_value("block")
    at.slider(key="policy_threshold").set_value(0.8)
    at.button(key="FormSubmitter:store_policy-Save policy").click().run()
    assert not at.exception
    policy = workbench.stores.policy(workbench.actor("olivia"), "filings")
    assert (policy.safety, policy.injection_threshold) == ("block", 0.8)
    assert any("Latest decisions** (1 in all)" in m.value for m in at.markdown)  # the change itself is recorded
    at = page_as(workbench, "stores", "admin").run()
    at.selectbox(key="manage_store").set_value("filings").run()
    at.number_input(key="policy_tokens_per_day_key").set_value(50_000)
    at.number_input(key="policy_budget_per_month_user").set_value(12.5)
    at.button(key="FormSubmitter:store_policy-Save policy").click().run()
    assert not at.exception
    policy = workbench.stores.policy(workbench.actor("admin"), "filings")
    assert (policy.tokens_per_day_key, policy.budget_per_month_user, policy.safety) == (50_000, 12.5, "block")
