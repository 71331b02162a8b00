"""Do scores mean the same in every query? Each question is asked, through the product's search, of the store that
answers it and of one that does not, and we count how often a minimum score tells the two apart.

    .venv/bin/python bench/calibration.py [--data-dir data/eval] [--filings-dir data/longdocs]

Stores (reused when present, else ingested through the product): SciFact's 5,183 abstracts (the store
bench/eval_retrieval.py builds) and the ten FinanceBench dev filings (built here on first use).
Questions: SciFact's 300 test claims and the 36 FinanceBench questions, each asked of its own store (related)
and of the other one (unrelated), with the product's default search settings.

Two minimums are reported: the chat's (the best hit's cosine against the embedding model's MIN_RELEVANCE, which
decides whether chat answers at all), and a store's minimum score on the calibrated fused score (the search
setting `threshold`). For each: the share of unrelated questions whose best hit still reaches it (noise let
through) and of related questions whose first relevant hit falls below it (a right answer dropped).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from common import ROOT, SCIFACT, SHARED_DATA, print_table, scifact_corpus

sys.path.insert(0, str(ROOT))

from core.config import load_settings
from core.embedding import MIN_RELEVANCE, MINILM
from core.evaluation import Question, read_questions
from core.ingest import Upload
from core.options import SearchOptions
from core.rag import best_relevance
from core.records import Hit
from core.workbench import Workbench

FINANCEBENCH = SHARED_DATA / "financebench-dev"
THRESHOLDS = (0.20, 0.25, 0.30, 0.35, 0.40)
K = 10


def workbench_in(folder: Path) -> Workbench:
    return Workbench(load_settings(env={}, secrets_file=folder / "none.toml", data_dir=folder))


def ensure(workbench: Workbench, name: str, uploads: list[Upload]) -> None:
    admin = workbench.actor("admin")
    existing = {s.store.name: s for s in workbench.stores.visible(admin)}
    if name in existing and existing[name].documents == len(uploads):
        return
    if name in existing:
        workbench.stores.delete(admin, name)
    workbench.stores.create(admin, name)
    started = time.perf_counter()
    for i in range(0, len(uploads), 500):
        workbench.documents.ingest(admin, name, uploads[i : i + 500])
        print(f"  {name}: {min(i + 500, len(uploads))}/{len(uploads)} files ({time.perf_counter() - started:.0f} s)")


def scifact_questions() -> list[Question]:
    qrels: dict[str, list[str]] = {}
    for line in (SCIFACT / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        query_id, doc_id, _ = line.split("\t")
        qrels.setdefault(query_id, []).append(f"{doc_id}.txt")
    rows = [json.loads(line) for line in (SCIFACT / "queries.jsonl").read_text().splitlines()]
    return [Question(r["text"], "|".join(qrels[r["_id"]]), id=r["_id"]) for r in rows if r["_id"] in qrels]


def first_relevant(question: Question, hits: list[Hit]) -> Hit | None:
    return next((h for h in hits if question.relevant(h) is not None), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data" / "eval")
    parser.add_argument("--filings-dir", type=Path, default=ROOT / "data" / "longdocs")
    parser.add_argument("--filings-store", default="filings", help="a store of the ten filings in --filings-dir")
    args = parser.parse_args()
    scifact, filings = workbench_in(args.data_dir), workbench_in(args.filings_dir)
    abstracts = [Upload(f"{d['_id']}.txt", f"{d['title']} {d['text']}".encode()) for d in scifact_corpus()]
    ensure(scifact, "scifact", abstracts)
    store = args.filings_store
    ensure(filings, store, [Upload(p.name, p.read_bytes()) for p in sorted((FINANCEBENCH / "pdfs").glob("*.pdf"))])
    finance = list(read_questions((FINANCEBENCH / "questions.jsonl").read_bytes(), "questions.jsonl"))
    options = SearchOptions(top_k=K)
    ask = {
        "scifact": lambda q: scifact.search.run(scifact.actor("admin"), "scifact", q, options=options),
        "filings": lambda q: filings.search.run(filings.actor("admin"), store, q, options=options),
    }
    sets = {
        "SciFact test": (scifact_questions(), "scifact", "filings"),
        "FinanceBench dev": (finance, "filings", "scifact"),
    }
    floor = MIN_RELEVANCE[MINILM]
    rows: list[dict[str, object]] = []
    for name, (questions, own, other) in sets.items():
        related: list[Hit | None] = []
        related_cosine: list[float | None] = []
        unrelated_best: list[float] = []
        unrelated_cosine: list[float] = []
        for question in questions:
            hits = list(ask[own](question.question))
            related.append(first_relevant(question, hits))
            related_cosine.append(best_relevance(hits))
            noise = list(ask[other](question.question))
            unrelated_best.append(noise[0].score if noise else 0.0)
            unrelated_cosine.append(best_relevance(noise) or 0.0)
        found = [h for h in related if h is not None]
        count = len(questions)
        rows.append({
            "questions": name, "minimum": f"chat: best cosine {floor:g}",
            "unrelated let through": round(sum(c >= floor for c in unrelated_cosine) / count, 3),
            "related refused": round(sum((c or 0) < floor for c in related_cosine) / count, 3),
            "relevant hit in top 10": round(len(found) / count, 3),
        })  # fmt: skip
        for threshold in THRESHOLDS:
            rows.append({
                "questions": name, "minimum": f"fused score {threshold:g}",
                "unrelated let through": round(sum(s >= threshold for s in unrelated_best) / count, 3),
                "related refused": round(sum(h.score < threshold for h in found) / max(len(found), 1), 3),
                "relevant hit in top 10": round(len(found) / count, 3),
            })  # fmt: skip
    print(
        "\nrelated refused: of the questions whose relevant hit is in the top 10, the share scoring below the minimum"
    )
    print_table(rows)


if __name__ == "__main__":
    main()
