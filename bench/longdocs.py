"""Retrieval on long real filings: the FinanceBench development set (ten 10-Ks, 36 questions with evidence
pages) from ../shared/data/financebench-dev, all filings in one store, scored by core.evaluation.

    .venv/bin/python bench/longdocs.py [--chunking recursive:512:50 ...] [--settings NAME=OPTIONS ...]
                                       [--plain] [--cache DIR] [--fit]

Each `--chunking` (strategy:size:overlap, default: the product's) becomes one store, ingested through the
product (ingest time, windows and windows/s reported). `--plain` adds, for each, a store of plain chunks as
before windows existed (no header, no table header, no fitting to the model's window): the same run measures
both. Every search setting is run on every store and prints page-recall@5 and @10 (an evidence page of the
right filing in the top 5/10), MRR@5 and doc-recall@5 (the right filing in the top 5).
`--cache DIR` keeps embeddings by text across runs, so trying a search setting does not re-embed; ingest times
are only meaningful without it. `--fit` tunes the BM25 half-saturation score and the vector weight on the odd
questions and reports them on the even ones (the held-out half).
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

import core.ingest
import core.windows
from core import fusion
from core.chunking import chunk_document
from core.config import load_settings
from core.embedding import Embedder
from core.evaluation import Evaluation, Question, evaluate, read_questions
from core.ingest import Upload
from core.options import ChunkSettings, IngestOptions, SearchOptions
from core.workbench import Workbench

FINANCEBENCH = SHARED_DATA / "financebench-dev"
SETTINGS = {
    "default (pages, weight fitted to the store)": "",
    "chunks": "unit=chunk",
    "pages, weighted 0.6": "weight=0.6",
    "pages, weighted 0.7": "weight=0.7",
    "pages, weighted 0.9": "weight=0.9",
    "pages, vector": "mode=vector",
    "pages, fulltext": "mode=fulltext",
    "pages, RRF": "fusion=rrf",
}
HALVES = (2.0, 5.0, 10.0, 20.0, 40.0)
WEIGHTS = (0.5, 0.6, 0.7, 0.8, 0.9)


def plain_chunks(parsed, *, document_id, settings, token_spans, window, max_chunks):  # type: ignore[no-untyped-def]
    """Chunks as ingest made them before windows: no header, no table header, not fitted to the model."""
    return chunk_document(
        parsed, document_id=document_id, settings=settings, token_spans=token_spans, max_chunks=max_chunks
    )


def rows_of(result: Evaluation, **labels: object) -> list[dict[str, object]]:
    """page-recall@5/@10, MRR@5 and doc-recall@5 of each setting, from one evaluation at k=10."""
    rows = []
    for setting in result.results:
        questions = setting.questions
        count = len(questions)
        first = [q.first_relevant for q in questions]
        rows.append({
            **labels,
            "search": setting.name,
            "page-recall@5": round(sum(1 for f in first if f and f <= 5) / count, 3),
            "page-recall@10": round(sum(1 for f in first if f) / count, 3),
            "MRR@5": round(sum(1 / f for f in first if f and f <= 5) / count, 3),
            "doc-recall@5": round(sum(1 for q in questions if q.document_rank and q.document_rank <= 5) / count, 3),
        })  # fmt: skip
    return rows


def fit(workbench: Workbench, store: str, questions: list[Question]) -> None:
    """Tune BM25_HALF and the weight on the odd questions; report the grid on both halves."""
    halves = {"tune (odd)": questions[1::2], "held out (even)": questions[0::2]}
    product = fusion.BM25_HALF
    rows = []
    for half in HALVES:
        fusion.BM25_HALF = half
        for name, part in halves.items():
            options = {f"{w}": SearchOptions(weight=w, top_k=10) for w in WEIGHTS}
            result = evaluate(
                lambda q, o: workbench.search.run(workbench.actor("admin"), store, q, options=o), part, options, k=10
            )
            rows.append({"BM25 half": half, "questions": name,
                         **{f"w {r['search']}": r["page-recall@5"] for r in rows_of(result)}})  # fmt: skip
    fusion.BM25_HALF = product
    print("\nFit: page-recall@5 by BM25 half-saturation score and vector weight\n")
    print_table(rows)


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
    parser.add_argument("--plain", action="store_true", help="also a store of plain chunks, as before windows")
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--fit", action="store_true")
    parser.add_argument(
        "--header", action="append", help="a store whose headers say only these parts, e.g. section,page"
    )
    parser.add_argument("--keep", type=Path, help="keep the stores in this folder (and reuse them when present)")
    args = parser.parse_args()
    if not FINANCEBENCH.is_dir():
        raise SystemExit(f"FinanceBench not found at {FINANCEBENCH}; it lives in the shared data folder.")
    if args.cache:
        cached_embeddings(args.cache)
    questions = read_questions((FINANCEBENCH / "questions.jsonl").read_bytes(), "questions.jsonl")
    settings = dict(s.split("=", 1) for s in args.settings) if args.settings else SETTINGS
    options = {name: SearchOptions.parse(text, top_k=10) for name, text in settings.items()}
    pdfs = sorted((FINANCEBENCH / "pdfs").glob("*.pdf"))
    workbench, scratch = scratch_workbench()
    if args.keep:
        workbench = Workbench(load_settings(env={}, secrets_file=args.keep / "none.toml", data_dir=args.keep))
    kept = {s.store.name: s.documents for s in workbench.stores.visible(workbench.actor("admin"))}
    windows = core.ingest.windows
    rows, ingests = [], []
    variants: list[tuple[str, bool, tuple[str, ...] | None]] = [
        (spec, plain, None) for spec in (args.chunking or [""]) for plain in ((True, False) if args.plain else (False,))
    ]
    variants += [("", False, tuple(h.split(",")) if h != "none" else ()) for h in args.header or []]
    product_parts = core.windows.HEADER_PARTS
    for spec, plain, parts in variants:
        core.windows.HEADER_PARTS = parts if parts is not None else product_parts
        chunking = ChunkSettings(*[int(p) if p.isdigit() else p for p in spec.split(":")]) if spec else None
        label = (spec or "product default") + (" · plain chunks (before)" if plain else " · windows")
        label += f" (header: {', '.join(parts) or 'none'})" if parts is not None else ""
        store = "filings-" + hashlib.sha1(label.encode()).hexdigest()[:8]
        core.ingest.windows = plain_chunks if plain else windows  # type: ignore[assignment]
        started = time.perf_counter()
        if kept.get(store) == len(pdfs):
            results = []
        else:
            workbench.stores.create(workbench.actor("admin"), store, chunking=chunking)
            uploads = [Upload(p.name, p.read_bytes()) for p in pdfs]
            results = workbench.documents.ingest(
                workbench.actor("admin"), store, uploads, options=IngestOptions(chunking=chunking)
            )
        seconds = time.perf_counter() - started
        core.ingest.windows = windows
        chunks = sum(r.chunks for r in results)
        failed = [r.filename for r in results if r.error]
        if results:
            ingests.append({"store": label, "files": len(pdfs), "chunks or windows": chunks, "ingest s": round(seconds, 1),
                        "per s": round(chunks / seconds, 1), "files/min": round(60 * len(pdfs) / seconds, 2),
                        "failed": ", ".join(failed) or "-"})  # fmt: skip
        result = evaluate(
            lambda q, o, s=store: workbench.search.run(workbench.actor("admin"), s, q, options=o),
            questions,
            options,
            k=10,
        )
        rows += rows_of(result, store=label)
        if args.fit and not plain:
            fit(workbench, store, list(questions))
    print(f"\nIngest ({len(pdfs)} filings)\n")
    if ingests:
        print_table(ingests)
    print(f"\nFinanceBench dev, {len(questions)} questions, one store of all filings (recall = page-recall)\n")
    print_table(rows)
    scratch.cleanup()


if __name__ == "__main__":
    main()
