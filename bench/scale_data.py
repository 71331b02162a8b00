"""Synthetic stores of any size that look like real ones, for bench/scale.py.

The base is real: every SciFact abstract (../shared/data) ingested into a scratch store by the product (its
chunking, the bundled all-MiniLM-L6-v2), then read back with their vectors; kept in data/bench/ so that later runs
skip the minute it takes. A synthetic chunk mixes two real chunks a and b drawn at random: its text is the first
half of a's words then the second half of b's (real vocabulary and term statistics for BM25), its vector is
normalise(0.8·a + 0.45·b + noise), the noise Gaussian with σ = 0.1 per vector, spread over its 384 dimensions (so
neighbours are as close as real paraphrases, and no two chunks are copies). Queries are SciFact claims, embedded by
the same model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from common import ROOT, SCIFACT, scifact_corpus, scratch_workbench

from core.ingest import Upload
from core.records import Chunk

CACHE = ROOT / "data" / "bench" / "scifact-chunks.npz"


@dataclass
class Base:
    texts: list[str]
    vectors: np.ndarray  # float32, L2-normalised
    queries: list[str]
    query_vectors: np.ndarray


def base(*, queries: int = 50) -> Base:
    if not CACHE.is_file():
        _build()
    saved = np.load(CACHE, allow_pickle=False)
    texts = [str(t) for t in saved["texts"]]
    vectors = saved["vectors"].astype(np.float32)
    claims = [json.loads(line)["text"] for line in (SCIFACT / "queries.jsonl").read_text().splitlines()[:queries]]
    workbench, _scratch = scratch_workbench()
    embedder = workbench.services.embedder(workbench.services.settings.default_embedding)
    return Base(texts, vectors, claims, embedder.embed(claims).astype(np.float32))


def _build() -> None:
    workbench, scratch = scratch_workbench()
    me = workbench.actor("admin")
    workbench.stores.create(me, "base")
    uploads = [Upload(f"{d['_id']}.txt", f"{d['title']}\n\n{d['text']}".encode()) for d in scifact_corpus()]
    workbench.documents.ingest(me, "base", uploads)
    store = workbench.catalog.get_store("base")
    texts: list[str] = []
    vectors: list[np.ndarray] = []
    for chunks, batch in workbench.services.backend(store.backend).scan(store.collection):
        texts += [c.text for c in chunks]
        vectors.append(batch)
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    np.savez(CACHE, texts=np.array(texts), vectors=np.concatenate(vectors))
    scratch.cleanup()


def synthetic(source: Base, count: int, *, seed: int) -> Iterator[tuple[np.ndarray, list[str], np.ndarray]]:
    """(indexes, texts, vectors) of `count` synthetic chunks, in batches of 10,000."""
    rng = np.random.default_rng(seed)
    n, dim = source.vectors.shape
    words = [t.split() for t in source.texts]
    for start in range(0, count, 10_000):
        size = min(10_000, count - start)
        a, b = rng.integers(0, n, size), rng.integers(0, n, size)
        mixed = 0.8 * source.vectors[a] + 0.45 * source.vectors[b] + rng.normal(0, 0.1 / np.sqrt(dim), (size, dim))
        mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
        texts = [
            " ".join(words[i][: len(words[i]) // 2] + words[j][len(words[j]) // 2 :]) for i, j in zip(a, b, strict=True)
        ]
        yield np.arange(start, start + size), texts, mixed.astype(np.float32)


def chunk(document_id: str, index: int, text: str) -> Chunk:
    return Chunk(
        document_id=document_id,
        filename=f"{document_id}.txt",
        text=text,
        chunk_index=index,
        start=index * 1000,
        end=index * 1000 + len(text),
        page=None,
    )


if __name__ == "__main__":
    built = base()
    print(f"{len(built.texts)} chunks, vectors {built.vectors.shape}, {len(built.queries)} queries; cache {CACHE}")
    Path(CACHE).stat()
