"""Retrieval on long real filings: the FinanceBench development set (ten 10-Ks, 36 questions with evidence
pages) from ../shared/data/financebench-dev, all filings in one store, scored by core.evaluation.

    .venv/bin/python bench/longdocs.py [--chunking recursive:512:50 ...] [--settings NAME=OPTIONS ...]
                                       [--cache DIR] [--k 5]

Each `--chunking` (strategy:size:overlap, default: the product's) becomes one store, ingested through the
product (ingest time and chunks/s reported). Every search setting is run on every store and prints
page-recall@k (an evidence page of the right filing in the top k), MRR, nDCG and doc-recall@k.
`--cache DIR` keeps chunk embeddings by text across runs, so trying a search setting does not re-embed;
ingest times are only meaningful without it.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import sys
import time
from pathlib import Path

import numpy as np
from common import ROOT, SHARED_DATA, print_table, scratch_workbench

sys.path.insert(0, str(ROOT))

from core.embedding import Embedder
from core.evaluation import evaluate, read_questions
from core.ingest import Upload
from core.options import ChunkSettings, IngestOptions, SearchOptions

FINANCEBENCH = SHARED_DATA / "financebench-dev"
SETTINGS = {
    "default": "",
    "vector": "mode=vector",
    "fulltext": "mode=fulltext",
    "hybrid weighted 0.7": "fusion=weighted weight=0.7",
}


def cached_embeddings(folder: Path) -> None:
    """Serve repeated chunk texts from a cache on disk (a bench convenience, never used by the product)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "embeddings.pkl"
    cache: dict[str, np.ndarray] = pickle.loads(path.read_bytes()) if path.is_file() else {}
    real = Embedder.embed

    def embed(self: Embedder, texts, *, on_usage=None):  # type: ignore[no-untyped-def]
        keys = [hashlib.sha1(f"{self.model}\n{t}".encode()).hexdigest() for t in texts]
        missing = [i for i, k in enumerate(keys) if k not in cache]
        if missing:
            fresh = real(self, [texts[i] for i in missing], on_usage=on_usage)
            for i, vector in zip(missing, fresh, strict=True):
                cache[keys[i]] = vector
            path.write_bytes(pickle.dumps(cache))
        return np.stack([cache[k] for k in keys])

    Embedder.embed = embed  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunking", action="append", help="strategy:size:overlap (default: the product's)")
    parser.add_argument("--settings", action="append", help="NAME=key=value key=value (default: a fixed set)")
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    if not FINANCEBENCH.is_dir():
        raise SystemExit(f"FinanceBench not found at {FINANCEBENCH}; it lives in the shared data folder.")
    if args.cache:
        cached_embeddings(args.cache)
    questions = read_questions((FINANCEBENCH / "questions.jsonl").read_bytes(), "questions.jsonl")
    settings = dict(s.split("=", 1) for s in args.settings) if args.settings else SETTINGS
    options = {name: SearchOptions.parse(text, top_k=args.k) for name, text in settings.items()}
    pdfs = sorted((FINANCEBENCH / "pdfs").glob("*.pdf"))
    workbench, scratch = scratch_workbench()
    rows, ingests = [], []
    for number, spec in enumerate(args.chunking or [""]):
        chunking = ChunkSettings(*[int(p) if p.isdigit() else p for p in spec.split(":")]) if spec else None
        label = spec or "product default"
        store = f"filings{number}"
        workbench.stores.create(workbench.actor("admin"), store, chunking=chunking)
        started = time.perf_counter()
        uploads = [Upload(p.name, p.read_bytes()) for p in pdfs]
        results = workbench.documents.ingest(
            workbench.actor("admin"), store, uploads, options=IngestOptions(chunking=chunking)
        )
        seconds = time.perf_counter() - started
        chunks = sum(r.chunks for r in results)
        failed = [r.filename for r in results if r.error]
        ingests.append({"chunking": label, "files": len(pdfs), "chunks": chunks, "ingest s": seconds,
                        "chunks/s": chunks / seconds, "failed": ", ".join(failed) or "-"})  # fmt: skip
        result = evaluate(
            lambda q, o, s=store: workbench.search.run(workbench.actor("admin"), s, q, options=o),
            questions,
            options,
            k=args.k,
        )
        rows += [{"chunking": label, **row} for row in result.table()]
    print(f"\nIngest ({len(pdfs)} filings)\n")
    print_table(ingests)
    print(f"\nFinanceBench dev, {len(questions)} questions, one store of all filings (recall = page-recall)\n")
    print_table(rows)
    scratch.cleanup()


if __name__ == "__main__":
    main()
