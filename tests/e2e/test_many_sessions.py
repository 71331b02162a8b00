"""Three analysts at once, each in their own browser: all three upload into the same store before any upload
is done, then all three search it. Nothing is lost, stuck or duplicated, and no page shows a traceback."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from core.records import DocumentStatus, Role
from tests.e2e.conftest import NAV, Server, idle, shot, sign_in, workbench_of

pytestmark = pytest.mark.slow
PASSWORD = "analyst-password-1"
PEOPLE = {
    "ana": "The Lisbon office opens on the fourth of June with forty desks.",
    "ben": "The Oslo warehouse doubles its floor space before the winter season.",
    "cat": "The Nairobi team hires twelve engineers for the payments platform.",
}


def test_three_analysts_upload_and_search_the_same_store_at_once(tmp_path: Path, browser: Any) -> None:
    server = Server(tmp_path / "data", env={"WORKBENCH_ADMIN_PASSWORD": PASSWORD})
    contexts = []
    try:
        wb = workbench_of(tmp_path / "data")
        admin = wb.actor("admin")
        wb.stores.create(admin, "shared")
        pages = {}
        for name in PEOPLE:
            wb.users.add(admin, name, password=PASSWORD)
            wb.stores.grant(admin, "shared", name, Role.EDITOR)
            contexts.append(context := browser.new_context(viewport={"width": 1400, "height": 1000}))
            pages[name] = page = context.new_page()
            page.set_default_timeout(120_000)
            sign_in(page, server.url, name, PASSWORD)
        for name, page in pages.items():  # every upload starts before any is done
            note = tmp_path / f"{name}-note.txt"
            note.write_text(PEOPLE[name])
            page.locator(NAV, has_text="Upload").click()
            idle(page)
            page.locator('input[type="file"]').set_input_files(str(note))
            page.get_by_role("button", name=re.compile(r"Add 1 file to 'shared'")).click()
        for page in pages.values():  # a rerun may draw the summary twice for a moment
            page.get_by_text("1 added, 0 already there, 0 failed.").first.wait_for(timeout=180_000)
            idle(page)
        for name, page in pages.items():  # each finds what another one added
            other = PEOPLE[{"ana": "ben", "ben": "cat", "cat": "ana"}[name]]
            page.locator(NAV, has_text="Search").click()
            idle(page)
            page.get_by_label("Query").fill(other.split(" with ")[0].split(" before ")[0])
            page.get_by_label("Query").press("Enter")
            page.wait_for_function("text => document.body.innerText.includes(text)", arg=other[:40])
            idle(page)
            shot(page, f"many-sessions-{name}")
        for page in pages.values():
            assert "Traceback" not in page.locator("body").inner_text()
        documents = wb.documents.of(admin, "shared")
        assert sorted(d.filename for d in documents) == sorted(f"{n}-note.txt" for n in PEOPLE)  # none twice
        assert {d.status for d in documents} == {DocumentStatus.READY}
    finally:
        for context in contexts:
            context.close()
        server.stop()
