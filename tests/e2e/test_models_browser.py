"""A new administrator connects model servers in the browser: an Ollama-shaped server found on this machine with one
click, an OpenAI-compatible server with its key through the form; tests both, makes one the chat default, and the
next answer is written by it. The key is never shown again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.ingest import Upload
from tests.e2e.conftest import NAV, Server, idle, open_page, shot, sign_in, workbench_of
from tests.stub_ollama import StubOllama
from tests.stub_provider import StubProvider

PASSWORD = "admin-password-1"
KEY = "sk-team-0123456789abcdefSECRET"
NOTE = "The launch of the orchard app is planned for the third of May, after the spring pilot."


def test_an_administrator_connects_tests_and_chooses_a_model(tmp_path: Path, page: Any) -> None:
    with (
        StubOllama(models=("llama3.2:1b",), reply="Ollama says hello.") as ollama,
        StubProvider(reply="The launch is planned for the third of May [1].", models=("small",), key=KEY) as team,
    ):
        ports = f"ollama:{ollama.server.server_address[1]},openai:{team.server.server_address[1]}"
        server = Server(tmp_path / "data", env={"WORKBENCH_ADMIN_PASSWORD": PASSWORD,
                                                "WORKBENCH_LOCAL_MODEL_PORTS": ports})  # fmt: skip
        try:
            wb = workbench_of(tmp_path / "data")
            wb.stores.create(wb.actor("admin"), "plans")
            wb.documents.ingest(wb.actor("admin"), "plans", [Upload("launch.txt", NOTE.encode())])
            sign_in(page, server.url, "admin", PASSWORD)
            open_page(page, "Models")

            page.get_by_role("tab", name="Found on this machine").click()
            found = page.get_by_text(f"Ollama on port {ollama.server.server_address[1]}")
            found.wait_for()
            assert "OpenAI-compatible server on port" not in page.inner_text("body")  # it wants a key: not offered
            shot(page, "40-models-found-on-this-machine")
            page.get_by_role("button", name="Connect").first.click()
            idle(page)
            page.get_by_text("Connected", exact=True).wait_for()

            page.get_by_role("tab", name="Connect a server").click()
            page.locator('[data-testid="stSelectbox"]').filter(has_text="Provider").click()
            page.get_by_role("option", name="OpenAI-compatible server").click()
            idle(page)
            page.get_by_label("Name (its models are called name/model)").fill("team")
            page.get_by_label("Server address", exact=True).fill(team.api_base)
            page.get_by_label("API key (if it asks for one)").fill(KEY)
            page.get_by_role("button", name="List its models").click()
            idle(page)
            page.locator('[data-testid="stMultiSelect"]').filter(has_text="small").wait_for()
            shot(page, "41-models-connect-form")
            page.get_by_role("button", name="Connect", exact=True).click()
            idle(page)

            page.get_by_role("tab", name="Connections").click()
            table = page.locator('[data-testid="stDataFrame"]').first
            table.wait_for()
            for name in ("ollama", "team"):
                panel = page.locator('[data-testid="stExpander"]').filter(has_text=f"{name} ·")
                panel.locator("summary").click()
                panel.get_by_role("button", name="Test").first.click()
                idle(page)
                panel.get_by_text("Works: it answered").wait_for(timeout=60_000)
            body = page.inner_text("body")
            assert KEY not in body and KEY[:6] + "…" in body  # only its first characters
            shot(page, "42-models-tested")

            page.get_by_role("tab", name="Defaults").click()
            page.locator('[data-testid="stSelectbox"]').first.click()
            page.get_by_role("option", name="team/small").click()
            page.get_by_role("button", name="Save defaults").click()
            idle(page)
            assert wb.models.default(wb.actor("admin"), "chat") == "team/small"
            shot(page, "43-models-default-chosen")

            asked = len(team.requests)
            page.locator(NAV, has_text="Chat").click()
            idle(page)
            chat = page.locator('[data-testid="stChatInputTextArea"]')
            chat.fill("When is the launch of the orchard app?")
            chat.press("Enter")
            page.get_by_role("button", name="Regenerate the last answer").wait_for(timeout=120_000)
            idle(page)
            answer = page.locator('[data-testid="stChatMessage"]').nth(1)
            assert "The launch is planned for the third of May" in answer.inner_text()
            written = [r for r in team.requests[asked:] if r["path"].endswith("/chat/completions")]
            assert written and "third of May" in str(written[-1]["body"]["messages"])  # the source went with it
            assert KEY not in page.content()
            shot(page, "44-chat-answered-by-the-new-default")
        finally:
            server.stop()
