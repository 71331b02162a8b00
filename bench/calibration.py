"""Can a minimum cosine tell "the documents say" from "they do not"? The best cosine of each question against a
store that answers it and against one that does not, with the bundled all-MiniLM-L6-v2.

    .venv/bin/python bench/calibration.py [--cache DIR]

Stores: SciFact's 5,183 abstracts, and the ten FinanceBench dev filings chunked as the product does (512/50).
Questions: SciFact's 300 test claims (train claims tune, test reports) and the 36 FinanceBench questions, each
asked of its own store (related) and of the other one (unrelated). For each candidate minimum it prints the
share of unrelated questions still answered (their best hit is above it) and of related ones refused (below it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
from pathlib import Path

import numpy as np
from common import ROOT, SCIFACT, SHARED_DATA, print_table, scifact_corpus

sys.path.insert(0, str(ROOT))

from core.chunking import chunk_document
from core.embedding import MINILM, get_embedder
from core.options import ChunkSettings
from core.parsing import parse

FINANCEBENCH = SHARED_DATA / "financebench-dev"
CANDIDATES = (0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.40)


def embed(texts: list[str], cache: Path | None, name: str) -> np.ndarray:
    path = cache / f"{name}-{hashlib.sha1(''.join(texts).encode()).hexdigest()[:12]}.pkl" if cache else None
    if path is not None and path.is_file():
        return pickle.loads(path.read_bytes())  # type: ignore[no-any-return]
    vectors = np.asarray(get_embedder(MINILM).embed(texts))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(vectors))
    return vectors


def filing_chunks() -> list[str]:
    texts = []
    for pdf in sorted((FINANCEBENCH / "pdfs").glob("*.pdf")):
        parsed = parse(pdf.name, pdf.read_bytes())
        texts += [c.text for c in chunk_document(parsed, document_id=pdf.stem, settings=ChunkSettings())]
    return texts


def best(questions: np.ndarray, store: np.ndarray) -> np.ndarray:
    return np.max(questions @ store.T, axis=1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cache", type=Path)
    args = parser.parse_args()
    claims = [json.loads(line) for line in (SCIFACT / "queries.jsonl").read_text().splitlines()]
    tested = {line.split("\t")[0] for line in (SCIFACT / "qrels" / "test.tsv").read_text().splitlines()[1:]}
    trained = {line.split("\t")[0] for line in (SCIFACT / "qrels" / "train.tsv").read_text().splitlines()[1:]}
    finance = [json.loads(line)["question"] for line in (FINANCEBENCH / "questions.jsonl").read_text().splitlines()]
    abstracts = embed([f"{d['title']} {d['text']}" for d in scifact_corpus()], args.cache, "scifact")
    filings = embed(filing_chunks(), args.cache, "filings")
    sets = {}
    for split, ids in (("train", trained), ("test", tested)):
        asked = embed([c["text"] for c in claims if c["_id"] in ids], args.cache, f"claims-{split}")
        sets[split] = (best(asked, abstracts), best(asked, filings))
    questions = embed(finance, args.cache, "finance")
    sets["financebench"] = (best(questions, filings), best(questions, abstracts))
    rows = []
    for floor in CANDIDATES:
        row: dict[str, object] = {"minimum": floor}
        for name, (related, unrelated) in sets.items():
            row[f"{name}: unrelated answered"] = round(float(np.mean(unrelated >= floor)), 3)
            row[f"{name}: related refused"] = round(float(np.mean(related < floor)), 3)
        rows.append(row)
    print_table(rows)
    for name, (related, unrelated) in sets.items():
        print(f"{name}: best cosine related median {np.median(related):.3f} (p5 {np.percentile(related, 5):.3f}), "
              f"unrelated median {np.median(unrelated):.3f} (p95 {np.percentile(unrelated, 95):.3f})")  # fmt: skip


if __name__ == "__main__":
    main()
