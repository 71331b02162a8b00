"""What the HTTP API adds to a search: the same searches in-process and over HTTP, at 1, 4 and 16 concurrent clients.

    .venv/bin/python bench/api.py [--abstracts 2500] [--queries 60] [--data-dir DIR]

Builds a store of SciFact abstracts (2,500 make about 10,000 chunks; `--data-dir` keeps it for the next run), makes
an API key, then for each concurrency runs the SciFact queries through `wb.search.files` in this process (threads)
and through `POST /v1/vector_stores/{id}/search` of a `python -m api` server in its own process (httpx clients in
threads). Prints requests/s, p50 and p95 and errors of each, and the HTTP overhead at the median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from common import ROOT, SCIFACT, print_table, scifact_corpus

from core.config import load_settings
from core.ingest import Upload
from core.workbench import Workbench

STORE = "scifact-api"


def build(data_dir: Path, abstracts: int) -> Workbench:
    wb = Workbench(load_settings(env={}, secrets_file=data_dir / "none.toml", data_dir=data_dir, api_rate_per_minute=0))
    admin = wb.actor("admin")
    if not any(s.store.name == STORE for s in wb.stores.visible(admin)):
        wb.stores.create(admin, STORE)
        started = time.perf_counter()
        uploads = [
            Upload(f"{d['_id']}.txt", f"{d['title']}\n\n{d['text']}".encode()) for d in scifact_corpus(abstracts)
        ]
        for i in range(0, len(uploads), 250):
            wb.documents.ingest(admin, STORE, uploads[i : i + 250])
            print(
                f"  ingested {min(i + 250, len(uploads)):,} abstracts in {time.perf_counter() - started:,.0f} s",
                flush=True,
            )
    return wb


def queries(count: int) -> list[str]:
    with (SCIFACT / "queries.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line)["text"] for line in lines][:count]


def timed(call: Callable[[str], object], texts: list[str], clients: int) -> tuple[list[float], int, float]:
    """Latencies (ms), errors and wall seconds of every query, sent by `clients` threads at once."""

    def one(text: str) -> tuple[float, bool]:
        started = time.perf_counter()
        try:
            call(text)
            return (time.perf_counter() - started) * 1000, True
        except Exception as exc:
            print(f"  error: {type(exc).__name__}: {exc}"[:200], file=sys.stderr)
            return (time.perf_counter() - started) * 1000, False

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, texts))
    return [ms for ms, _ in results], sum(not ok for _, ok in results), time.perf_counter() - started


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--abstracts", type=int, default=2500)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--data-dir", type=Path, help="keep the built store here (default: a temporary folder)")
    args = parser.parse_args()
    scratch = None if args.data_dir else tempfile.TemporaryDirectory(prefix="wb-bench-api-")
    data_dir = args.data_dir or Path(scratch.name) / "data"  # type: ignore[union-attr]
    wb = build(data_dir, args.abstracts)
    admin = wb.actor("admin")
    store = wb.stores.get(admin, STORE)
    chunks = sum(d.chunk_count for d in wb.documents.of(admin, STORE))
    secret = wb.keys.create(admin, "bench").secret
    me = wb.keys.authenticate(secret)
    texts = queries(args.queries)
    port = 8765
    env = {**os.environ, "WORKBENCH_DATA_DIR": str(data_dir), "WORKBENCH_API_RATE_PER_MINUTE": "0"}
    server = subprocess.Popen(
        [sys.executable, "-m", "api", "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=env
    )
    url = f"http://127.0.0.1:{port}/v1/vector_stores/vs_{store.id}/search"
    headers = {"Authorization": f"Bearer {secret}"}
    local = __import__("threading").local()

    def over_http(text: str) -> object:
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=120)
        response = local.client.post(url, json={"query": text, "max_num_results": 10}, headers=headers)
        response.raise_for_status()
        return response.json()

    def in_process(text: str) -> object:
        return wb.search.files(me, STORE, [text], limit=10)

    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/docs", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and server.poll() is None, "the API server did not start"
                time.sleep(0.5)
        for warm in (in_process, over_http):  # models loaded and caches filled on both sides, untimed
            timed(warm, texts[:5], 1)
        rows = []
        for clients in (1, 4, 16):
            measured = {}
            for name, call in (("in-process", in_process), ("HTTP API", over_http)):
                latencies, errors, wall = timed(call, texts, clients)
                measured[name] = p(latencies, 50)
                rows.append({
                    "clients": clients, "path": name, "requests": len(texts), "errors": errors,
                    "req/s": len(texts) / wall, "p50 ms": p(latencies, 50), "p95 ms": p(latencies, 95),
                    "HTTP overhead p50 ms": measured["HTTP API"] - measured["in-process"] if name == "HTTP API" else "",
                })  # fmt: skip
        print(f"store: {chunks:,} chunks; {len(texts)} SciFact queries per run; max_num_results 10")
        print_table(rows)
    finally:
        server.terminate()
        server.wait(30)
        if scratch is not None:
            scratch.cleanup()


if __name__ == "__main__":
    main()
