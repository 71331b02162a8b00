"""Audit page: administrators see every remote model call with what was redacted; nobody else sees it."""

from __future__ import annotations

from core.records import UsageEvent
from core.workbench import Workbench
from tests.app.conftest import PASSWORD, page_as, texts


def test_an_administrator_sees_remote_calls_and_their_redactions(workbench: Workbench) -> None:
    workbench.users.create_first_admin("admin", PASSWORD)
    workbench.users.add(workbench.actor("admin"), "vic", password=PASSWORD)
    at = page_as(workbench, "audit", "admin").run()
    assert "everything ran on the bundled local models" in texts(at)
    for model, redactions in (("openai/gpt-4o-mini", {"email": 2, "phone": 1}), ("local/smollm2-135m", {})):
        workbench.catalog.record_usage(
            UsageEvent(
                kind="chat", user="vic", model=model, stores=("letters",), prompt_tokens=40, redactions=redactions
            )
        )
    at.run()
    rows = at.dataframe[0].value.to_dict("records")
    assert not at.exception and len(rows) == 1  # the local model's call is not an egress
    assert rows[0]["Model"] == "openai/gpt-4o-mini" and rows[0]["Redacted"] == "2 email, 1 phone"
    assert rows[0]["Stores"] == "letters" and [m.value for m in at.metric] == ["1", "40", "3"]


def test_anyone_else_is_refused(workbench: Workbench) -> None:
    workbench.users.create_first_admin("admin", PASSWORD)
    workbench.users.add(workbench.actor("admin"), "vic", password=PASSWORD)
    at = page_as(workbench, "audit", "vic").run()
    assert "Only an administrator" in at.error[0].value and not at.dataframe
