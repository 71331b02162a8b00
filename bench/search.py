"""Search latency per mode on a store of 100,000 chunks, query embedding timed separately.

    .venv/bin/python bench/search.py [--chunks 100000] [--queries 100]

Chunk texts are SciFact sentences packed into ~500-character chunks; their vectors are random unit
vectors written straight through the store protocol (embedding 100,000 chunks would take half an hour
on this CPU and does not change search cost). Documents are registered as ready in the catalog, so
every search runs the product's full path: vector and BM25 lists, ready filter, fusion.
Target: hybrid p95 under 100 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from common import SCIFACT, print_table, scifact_corpus, scratch_workbench

from core.catalog import new_id, now
from core.embedding import Embedder, get_embedder
from core.options import Mode, SearchOptions
from core.records import Chunk, Document, DocumentStatus
from core.retrieval import Target, search

CHUNKS_PER_DOC = 10


class Precomputed(Embedder):
    """The store's embedder with the query vectors computed up front, so timings exclude embedding."""

    def __init__(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        super().__init__(model)
        self.cached = vectors

    def embed_query(self, text: str, *, on_usage=None) -> np.ndarray:  # type: ignore[no-untyped-def]
        return self.cached[text]


def sentences() -> list[str]:
    out = []
    for doc in scifact_corpus():
        out.extend(s.strip() + "." for s in f"{doc['title']}. {doc['text']}".split(". ") if len(s) > 30)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--backends", default="lancedb,milvus", help="comma-separated (default: %(default)s)")
    args = parser.parse_args()
    pool = sentences()
    queries = [
        json.loads(line)["text"] for line in (SCIFACT / "queries.jsonl").read_text().splitlines()[: args.queries]
    ]
    rows: list[dict[str, object]] = []
    for backend in args.backends.split(","):
        rows += measure(backend.strip(), pool, queries, args.chunks)
    print(
        f"{args.chunks:,} chunks (384-d, ~500 characters each), {len(queries)} queries, top 10 of 50 candidates per list\n"
    )
    print_table(rows)


def measure(backend_name: str, pool: list[str], queries: list[str], total: int) -> list[dict[str, object]]:
    workbench, scratch = scratch_workbench()
    store = workbench.stores.create(workbench.actor("admin"), "bench", backend=backend_name)
    backend = workbench.services.backend(store.backend)
    rng = np.random.default_rng(7)
    write_seconds = 0.0
    for first in range(0, total, 10_000):
        count = min(10_000, total - first)
        documents = [
            Document(
                id=new_id(),
                store_id=store.id,
                filename=f"doc{(first + i) // CHUNKS_PER_DOC}.txt",
                content_hash=new_id(),
                size_bytes=0,
                status=DocumentStatus.READY,
                created_at=now(),
                uploaded_by="admin",
                chunk_count=CHUNKS_PER_DOC,
            )
            for i in range(0, count, CHUNKS_PER_DOC)
        ]
        workbench.catalog.add_documents(documents)
        chunks = []
        for i in range(count):
            start = (first + i) * 3 % len(pool)
            text = " ".join(pool[start : start + 3])[:500]
            doc = documents[i // CHUNKS_PER_DOC]
            chunks.append(
                Chunk(
                    document_id=doc.id,
                    filename=doc.filename,
                    text=text,
                    chunk_index=i % CHUNKS_PER_DOC,
                    start=0,
                    end=len(text),
                )
            )
        vectors = rng.standard_normal((count, store.embedding_dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        started = time.perf_counter()
        backend.add(store.collection, chunks, vectors)
        write_seconds += time.perf_counter() - started
    started = time.perf_counter()
    backend.maintain(store.collection)
    index_seconds = time.perf_counter() - started
    disk_mb = sum(f.stat().st_size for f in Path(scratch.name).rglob("*") if f.is_file()) / 2**20

    embedder = get_embedder(store.embedding_model)
    embedder.embed_query("warm up")
    embed_ms = []
    vectors_by_query = {}
    for query in queries:
        started = time.perf_counter()
        vectors_by_query[query] = embedder.embed_query(query)
        embed_ms.append((time.perf_counter() - started) * 1000)
    target = Target(store=store, backend=backend, embedder=Precomputed(store.embedding_model, vectors_by_query))
    base = {
        "backend": backend_name,
        "insert rows/s": f"{total / write_seconds:,.0f}",
        "index s": f"{index_seconds:.1f}",
        "disk MB": f"{disk_mb:,.0f}",
    }
    rows: list[dict[str, object]] = [
        {
            **base,
            "what": "query embedding (MiniLM via LiteLLM)",
            "p50 ms": statistics.median(embed_ms),
            "p95 ms": _p95(embed_ms),
        }
    ]
    for mode in Mode:
        options = SearchOptions(mode=mode, top_k=10)
        search(queries[0], [target], catalog=workbench.catalog, options=options)  # warm caches
        timings = []
        for query in queries:
            started = time.perf_counter()
            search(query, [target], catalog=workbench.catalog, options=options)
            timings.append((time.perf_counter() - started) * 1000)
        rows.append(
            {**base, "what": f"search {mode.value}", "p50 ms": statistics.median(timings), "p95 ms": _p95(timings)}
        )
    scratch.cleanup()
    return rows


def _p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


if __name__ == "__main__":
    main()
