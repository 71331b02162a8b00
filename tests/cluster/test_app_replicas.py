"""The app through HAProxy, in Chromium: a session stays on one app replica (its websocket and reruns), sign-in
works with the cookie key every replica shares, and a PDF page ingested by another process of the cluster (this
test's own) is shown from the object storage, since no app replica has it on its disk."""

from __future__ import annotations

from typing import Any

import pytest

from core.ingest import Upload
from core.workbench import Workbench
from tests.conftest import filing_pages, make_pdf
from tests.e2e.conftest import NAV, idle, shot, sign_in
from tests.local_cluster import Cluster

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"


def test_an_analyst_signs_in_through_the_balancer_and_sees_a_page_no_app_replica_ingested(
    cluster: Cluster, wb: Workbench, page: Any
) -> None:
    admin = wb.actor("admin")
    wb.users.add(admin, "bea", password=PASSWORD)
    wb.stores.create(wb.actor("bea"), "browsed")
    wb.documents.ingest(wb.actor("bea"), "browsed", [Upload("annual-report.pdf", make_pdf(filing_pages(4)))])

    sign_in(page, cluster.app, "bea", PASSWORD)
    [replica] = [c["value"] for c in page.context.cookies() if c["name"] == "WBREPLICA"]
    assert replica in ("app-1", "app-2")
    page.locator(NAV, has_text="Search").click()
    page.get_by_role("heading", name="Search").wait_for()
    idle(page)
    page.get_by_label("Query").fill("Zebras migrate across the Serengeti plains")
    page.get_by_label("Query").press("Enter")
    page.wait_for_function("() => /\\d+ results? in [\\d.]+ s/.test(document.body.innerText)")
    idle(page)
    page.get_by_text("Show the page").first.click()
    image = page.locator('[data-testid="stImage"] img').first
    image.wait_for(timeout=60_000)
    idle(page)
    image.scroll_into_view_if_needed()
    shot(page, "cluster-page-through-haproxy")
    assert page.get_by_text("annual-report.pdf, page 3: the passage is outlined").count() == 1
    assert [c["value"] for c in page.context.cookies() if c["name"] == "WBREPLICA"] == [replica]  # it stayed
    data_dirs = [cluster.data_dir(name) for name in ("app-1", "app-2")]
    assert not [p for d in data_dirs for p in d.rglob("*.pdf")]  # from the object storage, not a replica's disk
