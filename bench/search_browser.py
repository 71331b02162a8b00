"""Search and compare latency as an analyst sees it: a real Chromium on the Search page of a store of a few
thousand chunks (SciFact abstracts from ../shared/data, embedded with the bundled model).

    .venv/bin/python bench/search_browser.py [--abstracts 1000] [--queries 8]

Each query is timed from pressing Enter until the results are drawn; each compare (hybrid vs vector)
from switching it on until both sides are drawn.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, print_table, scifact_corpus

sys.path.insert(0, str(ROOT))

from core.config import load_settings
from core.ingest import Upload
from core.workbench import Workbench
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, Server, idle, open_page, sign_in

PASSWORD = "bench-password-1"
QUERIES = [
    "vitamin D deficiency and bone fractures",
    "antibiotic resistance in hospital infections",
    "gene expression in breast cancer cells",
    "effects of exercise on insulin sensitivity",
    "malaria transmission by mosquitoes",
    "stem cell differentiation pathways",
    "smoking and lung cancer risk",
    "immune response to viral infection",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--abstracts", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=8)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="wb-bench-") as scratch:
        data = Path(scratch) / "data"
        workbench = Workbench(load_settings(env={}, secrets_file=Path(scratch) / "none.toml", data_dir=data))
        workbench.stores.create(workbench.actor("admin"), "scifact")
        uploads = [
            Upload(f"{d['_id']}.txt", f"{d['title']}\n\n{d['text']}".encode()) for d in scifact_corpus(args.abstracts)
        ]
        started = time.perf_counter()
        workbench.documents.ingest(workbench.actor("admin"), "scifact", uploads)
        chunks = workbench.stores.visible(workbench.actor("admin"))[0].chunks
        print(f"ingested {len(uploads)} abstracts, {chunks} chunks, in {time.perf_counter() - started:.0f} s")
        server = Server(data, env={"WORKBENCH_ADMIN_PASSWORD": PASSWORD})
        searches: list[float] = []
        compares: list[float] = []
        server_ms: list[float] = []
        drawn_ms: list[float] = []
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(60_000)
                sign_in(page, server.url, "admin", PASSWORD)
                open_page(page, "Search")
                for query in QUERIES[: args.queries]:
                    box = page.get_by_label("Query")
                    box.fill(query)
                    pressed = time.perf_counter()
                    box.press("Enter")
                    page.wait_for_function(
                        "(q) => document.body.innerText.includes(`ms) for “${q}”`)"
                        " && !document.querySelector('[data-stale=true]')",
                        arg=query,
                    )
                    searches.append((time.perf_counter() - pressed) * 1000)
                    caption = page.get_by_text(re.compile(r"results? in [\d.]+ s \(search \d+ ms\)")).first.inner_text()
                    server_ms.append(float(re.search(r"\(search (\d+) ms\)", caption).group(1)))  # type: ignore[union-attr]
                    drawn_ms.append(float(re.search(r"results? in ([\d.]+) s", caption).group(1)) * 1000)  # type: ignore[union-attr]
                    idle(page)
                    toggle = page.get_by_text("Compare two settings")
                    pressed = time.perf_counter()
                    toggle.click()
                    page.wait_for_function(
                        "() => (document.body.innerText.match(/\\d+ results? in [\\d.]+ s/g) || []).length === 2"
                        " && !document.querySelector('[data-stale=true]')"
                    )
                    compares.append((time.perf_counter() - pressed) * 1000)
                    idle(page)
                    toggle.click()
                    idle(page)
                browser.close()
        finally:
            server.stop()
    print(f"\nSearch page, store of {chunks} chunks, the default settings, {len(searches)} queries (Enter to drawn)\n")
    print_table(
        [
            {"view": "search", "median ms": statistics.median(searches), "max ms": max(searches)},
            {
                "view": "  of which the search itself (server)",
                "median ms": statistics.median(server_ms),
                "max ms": max(server_ms),
            },
            {
                "view": "  of which the page's run, drawing included (server)",
                "median ms": statistics.median(drawn_ms),
                "max ms": max(drawn_ms),
            },
            {
                "view": "compare (hybrid | hybrid, both sides)",
                "median ms": statistics.median(compares),
                "max ms": max(compares),
            },
        ]
    )


if __name__ == "__main__":
    main()
