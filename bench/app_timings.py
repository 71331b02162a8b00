"""The app as an analyst times it, before and after this round, in one run: a real Chromium against a freshly
started server on a store of 10,000 documents (100,000 chunks: bench/scale.py's "100k" store, built if missing),
with 10,000 ingest records in its usage.

    .venv/bin/python bench/app_timings.py [--before 9b0e37b] [--queries 6]

For each version (the commit before, then this tree), on its own copy of the data: the server is started; the
sign-in page's first paint is timed from opening the address (as soon as the server answers its health check); the
analyst types their name and password (a key every 120 ms), signs in, waits three seconds, opens Search and searches at once (Enter to results drawn: the first search
after a start), then searches again (median of the rest, beside the search's own time as the page reports it);
then opens Documents (click to the table drawn) and Usage (click to the first chart drawn); the server's memory.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import psutil
from common import ROOT, print_table
from scale import SIZES, STORE, build, open_workbench
from scale_data import base
from search_browser import QUERIES

from core.catalog import now
from core.records import UsageEvent
from tests.e2e.conftest import Server

PASSWORD = "bench-password-1"
CHROMIUM = "/usr/bin/chromium"
DRAWN = "() => !document.querySelector('[data-stale=true]') && !document.querySelector('[data-testid=stSkeleton]')"


def prepare(root: Path) -> Path:
    """The 10,000-document store, its administrator's password and 10,000 ingest records of the last 30 days."""
    built = build(root, "100k", base(queries=1), fresh=False)
    workbench = built.workbench
    if workbench.users.needs_first_admin():
        workbench.users.create_first_admin("admin", PASSWORD)
    if not workbench.catalog.usage(user="admin", since=now() - timedelta(days=31))[:1]:
        for n in range(SIZES["100k"][1]):
            workbench.catalog.record_usage(
                UsageEvent(kind="ingest", user="admin", model="local/all-MiniLM-L6-v2", store=STORE, documents=1,
                           chunks=10, created_at=now() - timedelta(minutes=4 * n))
            )  # fmt: skip
    return built.data


def nav(page, title: str) -> float:  # type: ignore[no-untyped-def]
    clock = time.perf_counter()
    page.locator("[data-testid=stPageLink] a", has_text=title).click()
    page.get_by_role("heading", name=title).wait_for()
    return clock


def timings(tree: Path, data: Path, queries: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    copy = Path(tempfile.mkdtemp(prefix="wb-timings-")) / "data"
    shutil.copytree(data, copy)
    server = Server(copy, tree=tree)
    found: dict[str, float] = {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            clock = time.perf_counter()
            page.goto(server.url)
            page.get_by_role("button", name="Sign in").wait_for()
            found["sign-in first paint ms"] = (time.perf_counter() - clock) * 1000
            page.get_by_label("Username", exact=True).press_sequentially("admin", delay=120)  # typed, as people do
            page.get_by_label("Password", exact=True).press_sequentially(PASSWORD, delay=120)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("heading", name="Stores").wait_for()
            page.wait_for_timeout(3000)  # the analyst looks at the Stores page for a few seconds
            nav(page, "Search")
            searched, server_ms = [], []
            for query in QUERIES[:queries]:
                box = page.get_by_label("Query")
                box.fill(query)
                clock = time.perf_counter()
                box.press("Enter")
                page.wait_for_function(f"(q) => document.body.innerText.includes(`ms) for “${{q}}”`) && ({DRAWN})()",
                                       arg=query)  # fmt: skip
                searched.append((time.perf_counter() - clock) * 1000)
                caption = page.get_by_text(re.compile(r"results? in [\d.]+ s \(search \d+ ms\)")).first.inner_text()
                server_ms.append(float(re.search(r"\(search (\d+) ms\)", caption).group(1)))  # type: ignore[union-attr]
            found["first search after start ms"] = searched[0]
            found["  its search (server) ms"] = server_ms[0]
            found["search Enter to drawn ms (median)"] = statistics.median(searched[1:])
            found["  its search (server) ms (median)"] = statistics.median(server_ms[1:])
            clock = nav(page, "Documents")
            page.get_by_text(re.compile(r"[\d,]+ documents")).first.wait_for()
            page.locator("[data-testid=stDataFrame]").first.wait_for()
            page.wait_for_function(DRAWN)
            found["Documents page (10,000 documents) ms"] = (time.perf_counter() - clock) * 1000
            clock = nav(page, "Usage")
            page.get_by_text("Requests per day").wait_for()
            page.locator("[data-testid=stVegaLiteChart]").first.wait_for()
            page.wait_for_function(DRAWN)
            found["Usage page ms"] = (time.perf_counter() - clock) * 1000
            found["app server MB"] = psutil.Process(server.process.pid).memory_info().rss / 2**20
            browser.close()
    finally:
        server.stop()
        shutil.rmtree(copy.parent, ignore_errors=True)
    return found


TARGETS = {
    "sign-in first paint ms": "≤ 2,000",
    "first search after start ms": "< 1,000",
    "search Enter to drawn ms (median)": "≤ its search + 400",
    "Documents page (10,000 documents) ms": "< 1,000",
    "Usage page ms": "< 1,000",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="9b0e37b")
    parser.add_argument("--queries", type=int, default=6)
    parser.add_argument("--root", type=Path, default=ROOT / "data" / "bench" / "scale")
    args = parser.parse_args()
    data = prepare(args.root)
    open_workbench(data)  # the catalog upgraded once, before either version opens a copy
    before = Path(tempfile.gettempdir()) / f"wb-before-{args.before}"
    if not before.exists():
        subprocess.run(["git", "worktree", "add", "-f", str(before), args.before], cwd=ROOT, check=True)
    results = {}
    for label, tree in (("before", before), ("after", ROOT)):
        results[label] = timings(tree, data, args.queries)
        print(label, results[label], flush=True)
    rows = [
        {"": name, "before": results["before"][name], "after": results["after"][name],
         "target": TARGETS.get(name, "")}
        for name in results["after"]
    ]  # fmt: skip
    print("\nThe app in Chromium, a store of 10,000 documents and 100,000 chunks, each version freshly started\n")
    print_table(rows)


if __name__ == "__main__":
    main()
