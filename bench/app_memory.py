"""Memory of the running app, as an analyst uses it in a real Chromium: resident memory (RSS) of the Streamlit
server and of every process it started (the bundled chat model runs as a child), after start, after signing
in, after an ingest, after a chat answer, and over 30 searches (growth would show a leak). A second table
says what the baseline is made of: a fresh Python process importing, one by one, what the app loads.

    .venv/bin/python bench/app_memory.py [--searches 30] [--pages 30]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, print_table

sys.path.insert(0, str(ROOT))

from tests.conftest import filing_pages, make_pdf
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, NAV, Server, create_store, idle, sign_in

PASSWORD = "bench-password-1"
LAYERS = [  # what the app process loads, in the order it loads it
    ("python", "pass"),
    ("+ streamlit", "import streamlit"),
    ("+ core, catalog (SQLAlchemy)", "import core.workbench"),
    ("+ litellm", "from core import llm; llm.litellm_module()"),
    ("+ lancedb", "import lancedb"),
    ("+ torch", "import torch"),
    ("+ MiniLM loaded", "from core.embedding import get_embedder; get_embedder('local/all-minilm-l6-v2').embed(['x'])"),
]


def _children(pid: int) -> list[int]:
    found, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                child = int(stat.parent.name)
                found.append(child)
                frontier.append(child)
    return found


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def measure(server: Server, phase: str) -> dict[str, object]:
    pids = _children(server.process.pid)
    app = _rss_mb(server.process.pid)
    others = sum(_rss_mb(p) for p in pids[1:])
    return {"phase": phase, "app MB": round(app), "children MB": round(others), "total MB": round(app + others)}


def layers() -> list[dict[str, object]]:
    rows, code, previous = [], [], 0.0
    for label, statement in LAYERS:
        code.append(statement)
        script = "; ".join([*code, "print(open('/proc/self/status').read())"])
        out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
        rss = next(int(line.split()[1]) / 1024 for line in out.stdout.splitlines() if line.startswith("VmRSS:"))
        rows.append({"layer": label, "RSS MB": round(rss), "added MB": round(rss - previous)})
        previous = rss
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--searches", type=int, default=30)
    parser.add_argument("--pages", type=int, default=30, help="pages of the filing to ingest")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    rows = []
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        server = Server(Path(folder) / "data", env={"WORKBENCH_ADMIN_PASSWORD": PASSWORD})
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.set_default_timeout(300_000)
            rows.append(measure(server, "started, no page opened"))
            sign_in(page, server.url, "admin", PASSWORD)
            create_store(page, "finance")
            page.wait_for_timeout(5000)  # the models load in the background after the first page
            rows.append(measure(server, "signed in, models warm (idle)"))
            pdf = Path(folder) / "filing.pdf"
            pdf.write_bytes(make_pdf(filing_pages(args.pages)))
            page.locator(NAV, has_text="Upload").click()
            idle(page)
            page.locator('input[type="file"]').set_input_files(str(pdf))
            page.get_by_role("button", name="Add 1 file to 'finance'").click()
            page.get_by_text("1 added, 0 already there, 0 failed.").wait_for()
            rows.append(measure(server, f"after an ingest ({args.pages} pages)"))
            page.locator(NAV, has_text="Chat").click()
            idle(page)
            page.locator('[data-testid="stChatInputTextArea"]').fill("What was the revenue?")
            page.locator('[data-testid="stChatInputTextArea"]').press("Enter")
            page.get_by_role("button", name="Regenerate the last answer").wait_for()
            rows.append(measure(server, "after a chat answer"))
            page.locator(NAV, has_text="Search").click()
            idle(page)
            for n in range(1, args.searches + 1):
                page.get_by_label("Query").fill(f"revenue growth in quarter {n}")
                page.get_by_label("Query").press("Enter")
                idle(page)
                page.wait_for_function("() => /results? in [\\d.]+ s/.test(document.body.innerText)")
                if n in (1, args.searches // 2, args.searches):
                    rows.append(measure(server, f"after {n} searches"))
        finally:
            browser.close()
            server.stop()
    print("The running app (RSS; children: the bundled chat model's server)")
    print_table(rows)
    print("\nWhat the baseline is made of (a fresh process, importing one more layer each row)")
    print_table(layers())


if __name__ == "__main__":
    main()
