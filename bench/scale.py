"""Cost as stores grow: one table over stores of 10 k, 100 k and 1 M chunks (100, 10 k and 100 k documents).

    .venv/bin/python bench/scale.py [--sizes 10k,100k,1m] [--queries 50] [--root data/bench/scale] [--fresh]

How the stores are made (bench/scale_data.py): every SciFact abstract is ingested once by the product (its chunking,
the bundled all-MiniLM-L6-v2) and read back; a synthetic chunk mixes two real chunks (text: the first half of one,
the second half of the other; vector: normalise(0.8 a + 0.45 b + noise)). Documents go into the catalog as the
ingest writes them (processing, then ready with their chunk counts) and chunks through the product's own LanceDB
backend, in batches of 10,000; the indexes are then built by the product's upkeep (`Maintenance.run`), timed. The
stores are kept under --root and reused by later runs (--fresh builds them again).

For each size: vector, full-text and hybrid search p50/p95 in-process (the search call, embedding included) and
through the API (`POST /v1/vector_stores/{id}/search`, over loopback, the store's saved mode); recall@10 of the
indexed vector search against the exact one (`exact=True`) and the exact search's own p50; the Documents page's first
screen (`documents.page`) and a store summary (first and cached); the API server's memory. On the largest store:
ingest of one more 99-page filing (FinanceBench's ADOBE_2022_10K.pdf) and the index refresh after it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import numpy as np
import psutil
from common import ROOT, SHARED_DATA, print_table
from scale_data import Base, base, chunk, synthetic

from core.catalog import new_id, now
from core.config import load_settings
from core.ingest import Upload
from core.options import Mode, SearchOptions, Unit
from core.records import Document, DocumentStatus
from core.workbench import Workbench

SIZES = {"10k": (10_000, 100), "100k": (100_000, 10_000), "1m": (1_000_000, 100_000)}
STORE = "filings"
FILING = SHARED_DATA / "financebench-dev" / "pdfs" / "ADOBE_2022_10K.pdf"


@dataclass
class Built:
    workbench: Workbench
    data: Path
    write_s: float | None  # None: reused from an earlier run
    index_s: float | None


def open_workbench(data: Path) -> Workbench:
    return Workbench(load_settings(env={}, secrets_file=data.parent / "none.toml", data_dir=data))


def build(root: Path, label: str, source: Base, *, fresh: bool) -> Built:
    chunks, documents = SIZES[label]
    data = root / label
    if fresh and data.exists():
        subprocess.run(["rm", "-rf", str(data)], check=True)
    if (data / "catalog.db").exists():
        return Built(open_workbench(data), data, None, None)
    workbench = open_workbench(data)
    me = workbench.actor("admin")
    workbench.stores.create(me, STORE)
    store = workbench.catalog.get_store(STORE)
    started = time.perf_counter()
    when = now() - timedelta(days=365)
    docs = [
        Document(new_id(), store.id, f"filing-{n:06}.txt", new_id(), 40_000, DocumentStatus.PROCESSING,
                 when + timedelta(minutes=5 * n), "admin")
        for n in range(documents)
    ]  # fmt: skip
    for start in range(0, documents, 5000):
        workbench.catalog.add_documents(docs[start : start + 5000])
    per = chunks // documents
    backend = workbench.services.backend(store.backend)
    for indexes, texts, vectors in synthetic(source, chunks, seed=len(label)):
        rows = [chunk(docs[i // per].id, int(i % per), t) for i, t in zip(indexes, texts, strict=True)]
        backend.add(store.collection, rows, vectors)
    ready = {d.id: per for d in docs}
    ids = list(ready)
    for start in range(0, documents, 5000):
        workbench.catalog.mark_ready({i: ready[i] for i in ids[start : start + 5000]})
    write_s = time.perf_counter() - started
    index_s = workbench.services.maintenance.run(store)
    return Built(workbench, data, write_s, index_s)


def timed(call, items) -> list[float]:  # type: ignore[no-untyped-def]
    spent = []
    for item in items:
        clock = time.perf_counter()
        call(item)
        spent.append((time.perf_counter() - clock) * 1000)
    return spent


def p50(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def recall(workbench: Workbench, queries: list[str]) -> tuple[float, list[float]]:
    me = workbench.actor("admin")
    indexed = SearchOptions(mode=Mode.VECTOR, unit=Unit.CHUNK, top_k=10)
    exact = SearchOptions(mode=Mode.VECTOR, unit=Unit.CHUNK, top_k=10, exact=True)
    found, spent = [], []
    for query in queries:
        approximate = {h.key for h in workbench.search.run(me, STORE, query, options=indexed)}
        clock = time.perf_counter()
        truth = {h.key for h in workbench.search.run(me, STORE, query, options=exact)}
        spent.append((time.perf_counter() - clock) * 1000)
        found.append(len(approximate & truth) / max(1, len(truth)))
    return statistics.mean(found), spent


class Api:
    """`python -m api` on the store's data directory, with a key of the administrator's."""

    def __init__(self, data: Path, secret: str) -> None:
        port = 8790
        self.url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "WORKBENCH_DATA_DIR": str(data), "WORKBENCH_SECRETS_FILE": str(data.parent / "none.toml"),
               "WORKBENCH_API_RATE_PER_MINUTE": "0"}  # fmt: skip
        self.log = (data.parent / "api.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "api", "--port", str(port), "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.3)
        self.client = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {secret}"}, timeout=120)

    def search(self, store_id: str, query: str) -> None:
        response = self.client.post(
            f"/v1/vector_stores/vs_{store_id}/search", json={"query": query, "max_num_results": 10}
        )
        response.raise_for_status()

    def rss_mb(self) -> float:
        return psutil.Process(self.process.pid).memory_info().rss / 2**20

    def stop(self) -> None:
        self.client.close()
        self.process.terminate()
        self.process.wait(30)
        self.log.close()


def measure(label: str, built: Built, queries: list[str]) -> tuple[dict[str, object], Workbench]:
    workbench = built.workbench
    me = workbench.actor("admin")
    store = workbench.catalog.get_store(STORE)
    indexing = workbench.services.backend(store.backend).indexing(store.collection)
    workbench.warm_up()
    row: dict[str, object] = {
        "store": f"{label}: {indexing.rows:,} chunks, {SIZES[label][1]:,} docs",
        "vector index": indexing.vector_index or "none (exact)",
        "write s": round(built.write_s, 1) if built.write_s is not None else "reused",
        "index build s": round(built.index_s, 1) if built.index_s is not None else "reused",
    }
    for mode in (Mode.VECTOR, Mode.FULLTEXT, Mode.HYBRID):
        options = SearchOptions(mode=mode)
        for query in queries[:3]:
            workbench.search.run(me, STORE, query, options=options)
        spent = timed(lambda q, o=options: workbench.search.run(me, STORE, q, options=o), queries)
        row[f"{mode.value} p50/p95 ms"] = f"{p50(spent):.0f} / {p95(spent):.0f}"
    found, exact = recall(workbench, queries)
    row["recall@10"] = round(found, 3)
    row["exact vector p50 ms"] = round(p50(exact))
    summary_first = timed(lambda _: workbench.stores.summary(me, STORE), [0])[0]
    summary = timed(lambda _: workbench.stores.summary(me, STORE), range(10))
    documents = timed(lambda _: workbench.documents.page(me, STORE, page=1, per_page=50), range(10))
    row["documents page ms"] = round(p50(documents), 1)
    row["summary first / cached ms"] = f"{summary_first:.1f} / {p50(summary):.2f}"
    key = workbench.keys.create(me, f"bench {time.time():.0f}")
    api = Api(built.data, key.secret)
    try:
        for mode in (Mode.VECTOR, Mode.FULLTEXT, Mode.HYBRID):
            workbench.stores.set_search_defaults(me, STORE, SearchOptions(mode=mode))
            for query in queries[:3]:
                api.search(store.id, query)
            spent = timed(lambda q: api.search(store.id, q), queries)
            row[f"API {mode.value} p50/p95 ms"] = f"{p50(spent):.0f} / {p95(spent):.0f}"
        row["API server MB"] = round(api.rss_mb())
    finally:
        api.stop()
        workbench.stores.set_search_defaults(me, STORE, SearchOptions())
    row["bench process MB"] = round(psutil.Process().memory_info().rss / 2**20)
    return row, workbench


def ingest_one_more(workbench: Workbench) -> dict[str, object]:
    """A 99-page filing into the big store: the ingest itself (its upkeep queued), then the index refresh."""
    me = workbench.actor("admin")
    store = workbench.catalog.get_store(STORE)
    maintenance = workbench.services.maintenance
    maintenance.start([])  # as in the app and the API: the ingest queues the upkeep instead of running it
    clock = time.perf_counter()
    [result] = workbench.documents.ingest(
        me, STORE, [Upload(f"more-{time.time():.0f}-{FILING.name}", FILING.read_bytes())]
    )
    ingest_s = time.perf_counter() - clock
    maintenance.stop()
    refresh_s = maintenance.run(store)
    return {"ingest one 99-page filing s": round(ingest_s, 1), "its chunks": result.chunks,
            "index refresh after it s": round(refresh_s, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10k,100k,1m")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--root", type=Path, default=ROOT / "data" / "bench" / "scale")
    parser.add_argument("--fresh", action="store_true", help="build the stores again")
    args = parser.parse_args()
    source = base(queries=args.queries)
    rows, last = [], None
    for label in args.sizes.split(","):
        started = time.perf_counter()
        built = build(args.root, label, source, fresh=args.fresh)
        print(f"{label}: store ready in {time.perf_counter() - started:.0f} s", flush=True)
        row, last = measure(label, built, source.queries)
        rows.append(row)
        print(row, flush=True)
    extra = ingest_one_more(last) if last is not None else {}
    print(f"\nScale (this machine: {os.cpu_count()} cores; {args.queries} SciFact claims per figure)\n")
    print_table([{k: v for k, v in r.items() if "API" not in k} for r in rows])
    print()
    print_table([{"store": r["store"], **{k: v for k, v in r.items() if "API" in k}} for r in rows])
    print()
    print_table([extra])
    hybrid = [float(str(r["hybrid p50/p95 ms"]).split(" / ")[0]) for r in rows]
    if len(hybrid) > 1:
        print(f"\nhybrid p50, largest / smallest store: {hybrid[-1] / hybrid[0]:.2f}x")
    np.set_printoptions()


if __name__ == "__main__":
    main()
