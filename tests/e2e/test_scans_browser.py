"""An analyst drops a 20-page scanned report (pictures of pages, no text layer) into the Upload page: the preview says
its pages were read by OCR, and offline, with no model key, chat answers from page 14 and shows that page itself with
the passage outlined."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.conftest import make_scan
from tests.e2e.conftest import NAV, SHOTS, Server, create_store, idle, open_cited_page, shot, sign_in

PASSWORD = "scan-password-1"
TOPICS = ["the orchard cooperative", "the cider press", "the packing shed", "the cold store", "the delivery vans"]


def page_text(n: int) -> str:
    topic = TOPICS[n % len(TOPICS)]
    return (f"Section {n}. Inspection notes on {topic}. The inspectors counted {100 + 7 * n} crates in good order "
            f"and recorded the humidity at {40 + n} percent during the visit on day {n} of the audit.")  # fmt: skip


def test_a_scanned_report_is_searchable_and_citable_by_page(tmp_path: Path, page: Any) -> None:
    texts = [page_text(n) for n in range(1, 21)]
    texts[13] = ("Section 14. Fire safety. The sprinkler system of the cold store was replaced in March by "
                 "Northwind Engineering for 48,500 euros, and every extinguisher passed its annual check.")  # fmt: skip
    scan = tmp_path / "scanned-audit.pdf"
    scan.write_bytes(make_scan(texts))
    server = Server(tmp_path / "data", env={"WORKBENCH_ADMIN_PASSWORD": PASSWORD})
    try:
        sign_in(page, server.url, "admin", PASSWORD)
        create_store(page, "audits")
        page.locator(NAV, has_text="Upload").click()
        page.get_by_role("heading", name="Upload").wait_for()
        idle(page)
        page.locator('input[type="file"]').set_input_files([str(scan)])
        page.get_by_text(re.compile(r"Read by OCR: 20 pages")).first.wait_for(timeout=240_000)
        idle(page, timeout=240_000)
        shot(page, "50-scan-preview-read-by-ocr")
        page.get_by_role("button", name=re.compile(r"Add 1 file to 'audits'")).click()
        page.get_by_text("1 added, 0 already there, 0 failed.").wait_for(timeout=300_000)
        idle(page)

        page.locator(NAV, has_text="Chat").click()
        idle(page)
        chat = page.locator('[data-testid="stChatInputTextArea"]')
        chat.fill("Who replaced the sprinkler system of the cold store, and for how much?")
        chat.press("Enter")
        page.get_by_role("button", name="Regenerate the last answer").wait_for(timeout=180_000)
        idle(page)
        answer = page.locator('[data-testid="stChatMessage"]').nth(1)
        assert "Northwind Engineering" in answer.inner_text() and "48,500" in answer.inner_text()
        cited = answer.locator('[data-testid="stExpander"]').filter(has_text="[1] scanned-audit.pdf")
        image = cited.locator('[data-testid="stImage"] img').first
        open_cited_page(page, cited.locator("summary").first, image, timeout=15_000)
        assert cited.get_by_text(re.compile(r"scanned-audit\.pdf, page 14: the cited passage is outlined")).count()
        image.scroll_into_view_if_needed()
        idle(page)
        shot(page, "51-chat-cites-the-scanned-page")
        cited.screenshot(path=str(SHOTS / "52-the-cited-scanned-page-outlined.png"))
    finally:
        server.stop()
