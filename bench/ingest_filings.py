"""Ingest speed on long filings, as one process to time from outside (farm-bench), against another checkout.

    farm-bench -n 3 --timeout 1800 -- .venv/bin/python bench/ingest_filings.py \
        --vs ".venv/bin/python bench/ingest_filings.py --root ../base"

Ingests FinanceBench dev filings (default: the first two) through the product's normal path into a scratch store
and prints the chunk (or window) count and chunks per second. `--root` imports the product from another checkout
(for example today's main in a git worktree), so both sides run the very same script on the same machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=HERE.parent, help="the checkout whose product is timed")
    parser.add_argument("--files", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(args.root.resolve()))
    from core.config import load_settings
    from core.ingest import Upload
    from core.workbench import Workbench

    pdfs = sorted((HERE.parent.parent / "shared" / "data" / "financebench-dev" / "pdfs").glob("*.pdf"))[: args.files]
    with tempfile.TemporaryDirectory(prefix="wb-ingest-") as scratch:
        folder = Path(scratch)
        workbench = Workbench(load_settings(env={}, secrets_file=folder / "none.toml", data_dir=folder / "data"))
        admin = workbench.actor("admin")
        workbench.stores.create(admin, "filings")
        started = time.perf_counter()
        results = workbench.documents.ingest(admin, "filings", [Upload(p.name, p.read_bytes()) for p in pdfs])
        seconds = time.perf_counter() - started
    chunks = sum(r.chunks for r in results)
    print(
        f"{args.root.resolve().name}: {len(pdfs)} filings, {chunks} chunks in {seconds:.1f} s = {chunks / seconds:.1f}/s"
    )


if __name__ == "__main__":
    main()
