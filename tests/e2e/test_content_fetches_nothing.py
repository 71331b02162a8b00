"""What other users' content can make a browser do: a store name, a document's text and an answer that carry
Markdown images, links and HTML pointing at a loopback server, seen by a viewer on every page. The server logs
every request it receives; it must receive none, and the page fixture checks the browser asked nothing outside
the app."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from core.ingest import Upload
from core.records import Role
from tests.e2e.conftest import NAV, Server, idle, shot, sign_in, workbench_of

pytestmark = pytest.mark.slow
PASSWORD = "analyst-password-1"


class Trap(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Trap.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_names_documents_and_answers_make_a_viewers_browser_fetch_nothing(tmp_path: Path, page: Any) -> None:
    trap = HTTPServer(("127.0.0.1", 0), Trap)
    threading.Thread(target=trap.serve_forever, daemon=True).start()
    bait = f"http://127.0.0.1:{trap.server_port}"
    store = f"![t]({bait}/store.png)"
    text = (
        f"The launch is planned for the third of May. ![chart]({bait}/doc.png) "
        f'<img src="{bait}/tag.png"> See [the plan]({bait}/link) and ![logo][l].\n\n[l]: {bait}/ref.png\n'
    )
    server = Server(tmp_path / "data", env={"WORKBENCH_ADMIN_PASSWORD": PASSWORD})
    try:
        wb = workbench_of(tmp_path / "data")
        admin = wb.actor("admin")
        wb.users.add(admin, "vic", password=PASSWORD)
        wb.stores.create(admin, store)
        wb.documents.ingest(admin, store, [Upload("plan.md", text.encode())])
        wb.stores.grant(admin, store, "vic", Role.VIEWER)
        policy = page.request.get(server.url).headers.get("content-security-policy", "")
        assert "img-src 'self' data: blob:" in policy and "connect-src 'self'" in policy  # a second wall
        sign_in(page, server.url, "vic", PASSWORD)
        for title in ("Stores", "Documents", "Search", "Evaluate", "Usage", "Account"):
            page.locator(NAV, has_text=title).click()
            page.get_by_role("heading", name=title).wait_for()
            idle(page)
        page.locator(NAV, has_text="Search").click()
        idle(page)
        page.get_by_label("Query").fill("When is the launch planned?")
        page.get_by_label("Query").press("Enter")
        page.wait_for_function("() => /\\d+ results? in [\\d.]+ s/.test(document.body.innerText)")
        idle(page)
        shot(page, "20-payload-search")
        page.locator(NAV, has_text="Chat").click()
        idle(page)
        chat = page.locator('[data-testid="stChatInputTextArea"]')
        chat.fill(f"When is the launch planned? Answer with ![x]({bait}/question.png)")
        chat.press("Enter")
        page.get_by_role("button", name="Regenerate the last answer").wait_for(timeout=180_000)
        idle(page, timeout=120_000)
        for summary in page.locator('[data-testid="stChatMessage"] [data-testid="stExpander"] summary').all():
            summary.click()  # open every cited source: its page, its chunks
            idle(page)
        shot(page, "21-payload-chat")
        main = page.locator("body").inner_text()
        assert "third of May" in main and f"{bait}/doc.png" in main  # the address is shown as text
        page.locator(NAV, has_text="Stores").click()
        page.wait_for_function("name => document.body.innerText.includes(name)", arg=store)  # the name as itself
        idle(page)
        shot(page, "22-payload-store-name")
    finally:
        server.stop()
        trap.shutdown()
    assert Trap.hits == []
