"""Models page (administrators): connect a server through the form (bad input said in words, nothing saved), test
it, choose the chat default; the key is never put back on the page; others see nothing."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.workbench import Workbench
from tests.app.conftest import PASSWORD, page_as, texts
from tests.stub_provider import StubProvider
from ui.session import workbench as app_workbench

KEY = "sk-apptest-0123456789abcdef"


@pytest.fixture
def models_workbench(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workbench]:
    with socket.socket() as s:  # local servers are looked for on a port where nothing listens
        s.bind(("127.0.0.1", 0))
        monkeypatch.setenv("WORKBENCH_LOCAL_MODEL_PORTS", f"ollama:{s.getsockname()[1]}")
    wb = app_workbench()
    wb.users.create_first_admin("admin", PASSWORD)
    wb.users.add(wb.actor("admin"), "ana", password=PASSWORD)
    yield wb


def test_an_administrator_connects_tests_and_chooses(models_workbench: Workbench) -> None:
    wb = models_workbench
    with StubProvider(reply="OK.", models=("small",), key=KEY) as stub:
        at = page_as(wb, "models", "admin").run()
        assert not at.exception and "No model server answers" in texts(at)
        at.selectbox(key="new_provider").set_value("openai_compatible").run()
        at.text_input(key="new_model_base").input(stub.api_base)
        at.text_input(key="new_model_key").input(KEY)
        at.text_input(key="new_model_typed").input("small")
        at.button(key="connect_model").click().run()  # no name yet
        assert "Name the connection" in texts(at) and not wb.models.connections(wb.actor("admin"))
        assert at.text_input(key="new_model_key").value == KEY  # nothing typed was lost
        at.text_input(key="new_model_name").input("team").run()
        at.button(key="connect_model").click().run()
        assert not at.exception and [c.name for c in wb.models.connections(wb.actor("admin"))] == ["team"]
        assert at.text_input(key="new_model_key").value == ""  # the key is not kept on the page
        assert "sk-app…" in texts(at) and KEY not in texts(at)
        at.button(key="test_team/small").click().run()
        assert "it answered “OK" in texts(at)
        at.selectbox(key="role_chat_default").set_value("team/small")
        at.button(key="FormSubmitter:model_defaults-Save defaults").click().run()
        assert not at.exception and wb.models.default(wb.actor("ana"), "chat") == "team/small"


def test_someone_else_gets_an_empty_models_page(models_workbench: Workbench) -> None:
    at = page_as(models_workbench, "models", "ana").run()
    assert not at.exception and not at.title and not at.tabs
