"""Many command-line searches at once on one store (one LanceDB folder, one SQLite catalog): every process must
answer with results, none may fail on a lock or print a traceback. Prints one row per batch size.

    .venv/bin/python bench/parallel_cli.py [--processes 20] [--abstracts 300]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, print_table, scifact_corpus

sys.path.insert(0, str(ROOT))

from core.config import load_settings
from core.ingest import Upload
from core.workbench import Workbench

QUERIES = ["vitamin D deficiency", "tumour suppressor genes", "antibiotic resistance", "insulin signalling"]


def run_batch(data_dir: Path, processes: int) -> dict[str, object]:
    env = {**os.environ, "WORKBENCH_DATA_DIR": str(data_dir), "WORKBENCH_SECRETS_FILE": str(data_dir / "none.toml")}
    started = time.perf_counter()
    children = [
        (
            time.perf_counter(),
            subprocess.Popen(
                [sys.executable, "-m", "core", "search", "kb", QUERIES[n % len(QUERIES)], "--json"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
        )
        for n in range(processes)
    ]
    ok, failures, slowest = 0, [], 0.0
    for began, child in children:
        out, err = child.communicate(timeout=900)
        slowest = max(slowest, time.perf_counter() - began)
        try:
            hits = json.loads(out) if child.returncode == 0 else []
        except json.JSONDecodeError:
            hits = []
        if child.returncode == 0 and hits and "Traceback" not in err:
            ok += 1
        else:
            failures.append((err.strip().splitlines() or ["(no message)"])[-1][:120])
    return {
        "processes": processes,
        "answered with results": ok,
        "failed": len(failures),
        "wall s": round(time.perf_counter() - started, 1),
        "slowest s": round(slowest, 1),
        "first failure": failures[0] if failures else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=20)
    parser.add_argument("--abstracts", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        wb = Workbench(load_settings(env={}, secrets_file=Path(folder) / "none.toml", data_dir=data))
        admin = wb.actor("admin")
        wb.stores.create(admin, "kb")
        uploads = [
            Upload(f"{d['_id']}.txt", f"{d['title']}\n\n{d['text']}".encode()) for d in scifact_corpus(args.abstracts)
        ]
        wb.documents.ingest(admin, "kb", uploads)
        rows = [run_batch(data, 1), run_batch(data, args.processes)]
    print_table(rows)


if __name__ == "__main__":
    main()
