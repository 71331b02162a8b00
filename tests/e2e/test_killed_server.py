"""The app server killed (`kill -9`) in the middle of adding a long filing, then started again: the half
document does not stay behind, the upload goes on by itself from its kept file, ends as one ready document,
and the same file uploaded again is recognised as already there."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from core.records import DocumentStatus
from tests.conftest import filing_pages, make_pdf
from tests.e2e.conftest import NAV, Server, create_store, idle, shot, sign_in, workbench_of

pytestmark = pytest.mark.slow
PASSWORD = "analyst-password-1"


def test_a_server_killed_mid_ingest_starts_again_clean(tmp_path: Path, page: Any, browser: Any) -> None:
    env = {"WORKBENCH_ADMIN_PASSWORD": PASSWORD, "WORKBENCH_INGEST_BATCH_CHUNKS": "8"}
    pdf = tmp_path / "long-report.pdf"
    pdf.write_bytes(make_pdf(filing_pages(400)))  # some 800 chunks in 100 batches: long enough to be killed
    server = Server(tmp_path / "data", env=env)
    try:
        sign_in(page, server.url, "admin", PASSWORD)
        create_store(page, "finance")
        page.locator(NAV, has_text="Upload").click()
        idle(page)
        page.locator('input[type="file"]').set_input_files(str(pdf))
        page.get_by_role("button", name=re.compile(r"Add 1 file to 'finance'")).click()
        page.wait_for_function(  # a few batches are written, more are to come
            "() => { const m = document.body.innerText.match(/\\(batch (\\d+) of (\\d+)\\)/);"
            " return m && Number(m[1]) >= 2 && Number(m[1]) < Number(m[2]) }",
            timeout=180_000,
        )
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=30)
    finally:
        server.stop()

    again = Server(tmp_path / "data", env=env)  # the same data folder, a new process (and port)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        wb = workbench_of(tmp_path / "data")
        admin = wb.actor("admin")
        sign_in(page, again.url, "admin", PASSWORD)  # the restarted app's job worker picks the upload up again
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            states = [d.status for d in wb.documents.of(admin, "finance")]
            if states == [DocumentStatus.READY]:
                break
            time.sleep(0.5)
        assert [d.status for d in wb.documents.of(admin, "finance")] == [DocumentStatus.READY], states
        page.locator(NAV, has_text="Upload").click()
        idle(page)
        page.locator('input[type="file"]').set_input_files(str(pdf))
        page.get_by_role("button", name=re.compile(r"Add 1 file to 'finance'")).click()
        page.get_by_text("0 added, 1 already there, 0 failed.").wait_for()
        idle(page)
        shot(page, "killed-server-upload-again")
        assert len(wb.documents.of(admin, "finance")) == 1  # nothing twice
    finally:
        context.close()
        again.stop()
