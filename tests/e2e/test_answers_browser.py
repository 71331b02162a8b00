"""An analyst asks how a figure changed: the offline answer quotes the table row, computes the change and shows its
working under the answer; a question the documents do not answer is refused in words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.ingest import Upload
from tests.e2e.conftest import NAV, Server, idle, shot, sign_in, workbench_of

PASSWORD = "analyst-password-1"
SALES = (
    "Amazon.com, Inc. Consolidated Statements of Operations\n(in millions) 2015 2016 2017\n"
    "Total net sales 107,006 135,987 177,866\nOperating income 2,233 4,186 4,106\nNet income 596 2,371 3,033\n"
)
ORCHARD = "A short history of the Valley Orchard Cooperative, founded in 1921 by eleven apple growers."


def test_a_computed_change_shows_its_working_and_baking_is_refused(tmp_path: Path, page: Any) -> None:
    server = Server(tmp_path / "data", env={"WORKBENCH_ADMIN_PASSWORD": PASSWORD})
    try:
        wb = workbench_of(tmp_path / "data")
        admin = wb.actor("admin")
        wb.stores.create(admin, "filings")
        wb.documents.ingest(admin, "filings", [Upload("amazon-2017.txt", SALES.encode()),
                                               Upload("orchard.txt", ORCHARD.encode())])  # fmt: skip
        sign_in(page, server.url, "admin", PASSWORD)
        page.locator(NAV, has_text="Chat").click()
        idle(page)
        chat = page.locator('[data-testid="stChatInputTextArea"]')
        chat.fill("How did Amazon's total net sales change from 2016 to 2017?")
        chat.press("Enter")
        regenerate = page.get_by_role("button", name="Regenerate the last answer")
        regenerate.wait_for(timeout=180_000)
        idle(page, timeout=120_000)
        answer = page.locator('[data-testid="stChatMessage"]').nth(1)
        answer.get_by_text("30.8% from [1]").wait_for()
        text = answer.inner_text()
        assert "Total net sales 107,006 135,987 177,866" in text
        assert "30.8% from [1]: (177,866 − 135,987) / 135,987 = 30.8%" in text
        assert "do not appear in the sources" not in text  # a right computation is not flagged
        shot(page, "30-chat-computed-working")

        page.get_by_role("button", name="New chat").click()
        idle(page)
        chat.fill("What is the recipe for banana bread?")
        chat.press("Enter")
        page.get_by_text("do not seem to say").wait_for(timeout=120_000)
        idle(page)
        shot(page, "31-chat-refuses-baking")
        assert "“" not in page.locator('[data-testid="stChatMessage"]').last.inner_text()  # nothing quoted
    finally:
        server.stop()
