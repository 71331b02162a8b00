"""Chunk-preview latency as an analyst feels it: a real Chromium moves the chunk-size slider on the Upload page.

    .venv/bin/python bench/preview_browser.py [--pages 100] [--moves 20]

Starts the app on a free loopback port with a scratch data directory, signs in, makes a store, drops a
generated PDF of --pages pages, then clicks along the chunk-size slider. Each move is timed from the
click until the preview says it shows the new size. Needs Debian's chromium (see the README).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, print_table

sys.path.insert(0, str(ROOT))

from tests.conftest import filing_pages, make_pdf
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, Server, create_store, idle, open_page, sign_in

PASSWORD = "bench-password-1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--moves", type=int, default=20)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="wb-bench-") as scratch:
        pdf = Path(scratch) / "filing.pdf"
        pdf.write_bytes(make_pdf(filing_pages(args.pages)))
        server = Server(Path(scratch) / "data", env={"WORKBENCH_ADMIN_PASSWORD": PASSWORD})
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(60_000)
                sign_in(page, server.url, "admin", PASSWORD)
                create_store(page, "bench")
                open_page(page, "Upload")
                page.locator('input[type="file"]').set_input_files(str(pdf))
                page.locator('[data-testid="stMetric"]').filter(has_text="Chunks").wait_for()
                idle(page)
                track = page.locator('[data-testid="stSlider"]').first.locator('[role="group"] > div').first
                box = track.bounding_box()
                assert box is not None
                moves: list[float] = []
                rng = random.Random(7)
                for _ in range(args.moves):
                    started = time.perf_counter()
                    page.mouse.click(box["x"] + box["width"] * rng.uniform(0.02, 0.98), box["y"] + box["height"] / 2)
                    value = page.locator('[data-testid="stSliderThumbValue"]').first.inner_text().strip()
                    page.wait_for_function(  # polled every animation frame: locator waits back off to 500 ms
                        "(text) => document.body.innerText.includes(text)", arg=f"chunks of {value} characters"
                    )
                    moves.append((time.perf_counter() - started) * 1000)
                    idle(page)
                browser.close()
        finally:
            server.stop()
    ordered = sorted(moves)
    print(f"Upload page, {args.pages}-page PDF, {args.moves} slider moves in Chromium (click to updated preview)\n")
    print_table(
        [
            {
                "median ms": statistics.median(moves),
                "p90 ms": ordered[int(len(ordered) * 0.9) - 1],
                "min ms": ordered[0],
                "max ms": ordered[-1],
                "under 200 ms": f"{sum(m < 200 for m in moves)}/{len(moves)}",
            }
        ]
    )


if __name__ == "__main__":
    main()
