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

import numpy as np
from common import SCIFACT, print_table, scifact_corpus, scratch_workbench

from core.catalog import new_id, now
from core.embedding import Embedder, get_embedder
from core.records import Chunk, Document, DocumentStatus
from core.retrieval import Mode, SearchOptions, Target, search

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
    args = parser.parse_args()
    workbench, scratch = scratch_workbench()
    store = workbench.create_store("bench")
    backend = workbench.backend(store.backend)
    pool = sentences()
    rng = np.random.default_rng(7)

    started = time.perf_counter()
    for first in range(0, args.chunks, 10_000):
        count = min(10_000, args.chunks - first)
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
            text = " ".join(pool[(first + i) * 3 % len(pool) : (first + i) * 3 % len(pool) + 3])[:500]
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
        backend.add(store.collection, chunks, vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    write_seconds = time.perf_counter() - started
    started = time.perf_counter()
    backend.maintain(store.collection)
    index_seconds = time.perf_counter() - started

    queries = [
        json.loads(line)["text"] for line in (SCIFACT / "queries.jsonl").read_text().splitlines()[: args.queries]
    ]
    embedder = get_embedder(store.embedding_model)
    embedder.embed_query("warm up")
    embed_ms = []
    vectors_by_query = {}
    for query in queries:
        started = time.perf_counter()
        vectors_by_query[query] = embedder.embed_query(query)
        embed_ms.append((time.perf_counter() - started) * 1000)
    target = Target(store=store, backend=backend, embedder=Precomputed(store.embedding_model, vectors_by_query))

    rows: list[dict[str, object]] = [
        {
            "what": "query embedding (local MiniLM via LiteLLM)",
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
            {
                "what": f"search, mode {mode.value} (top 10 of 50 candidates)",
                "p50 ms": statistics.median(timings),
                "p95 ms": _p95(timings),
            }
        )
    print(
        f"{args.chunks:,} chunks ({store.embedding_dim}-d) in LanceDB: written in {write_seconds:.1f} s, indexes built in {index_seconds:.1f} s; {len(queries)} queries\n"
    )
    print_table(rows)
    scratch.cleanup()


def _p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


if __name__ == "__main__":
    main()
