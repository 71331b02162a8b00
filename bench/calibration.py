"""Do scores mean the same in every query? Each question is asked, through the product's search, of the store that
answers it and of one that does not, and we count how often a minimum relevance tells the two apart.

    .venv/bin/python bench/calibration.py [--data-dir data/eval] [--filings-dir data/longdocs] [--split train]

Stores (reused when present, else ingested through the product): SciFact's 5,183 abstracts (the store
bench/eval_retrieval.py builds) and the ten FinanceBench dev filings (built here on first use).
Questions: SciFact's claims of --split (train: 809, where the minimums are chosen; test: 300) and the 36
FinanceBench questions, each asked of its own store (related) and of the other one (unrelated), and twenty everyday
questions about nothing either store holds (banana bread, a bicycle tyre) asked of both.

Chat refuses when the best hit's relevance (`ScoreBreakdown.relevance`: the calibrated fused score in hybrid search,
the cosine in vector search, and in full-text search the cosine of the hits BM25 found, as chat measures it) is below
the minimum of its mode (`core.ranking.refusal_minimum`). For each mode and minimum: the share of unrelated questions whose best hit still
reaches it (noise let through) and of related questions whose relevant hit is in the top 10 but whose best hit
falls below it (an answerable question refused).
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
from core.embedding import MINILM, get_embedder
from core.evaluation import Question, read_questions
from core.ingest import Upload
from core.options import Mode, SearchOptions
from core.ranking import refusal_minimum
from core.records import Hit
from core.relevance import best_cosine, best_relevance, with_cosines
from core.workbench import Workbench

FINANCEBENCH = SHARED_DATA / "financebench-dev"
MINIMUMS = {
    Mode.HYBRID: (0.30, 0.35, 0.40, 0.45),
    Mode.VECTOR: (0.30, 0.40, 0.45, 0.50),
    Mode.FULLTEXT: (0.30, 0.35, 0.40, 0.45),
}
K = 10
EVERYDAY = (
    "What is the recipe for banana bread?",
    "How do I fix a flat bicycle tyre?",
    "Who won the football world cup in 2018?",
    "What is the capital of Australia?",
    "How long should I boil an egg for a soft yolk?",
    "What are the rules of chess castling?",
    "Which planet has the most moons?",
    "How do I knit a scarf for beginners?",
    "What time does the sun set in Paris in June?",
    "Recommend a good science fiction novel",
    "How many strings does a violin have?",
    "What is the best way to train a puppy?",
    "How tall is Mount Kilimanjaro?",
    "What is the plot of Hamlet?",
    "How do I make sourdough starter?",
    "Who painted the Mona Lisa?",
    "What is the offside rule in football?",
    "How do I change the oil in my car?",
    "What should I pack for a beach holiday?",
    "How do you say thank you in Japanese?",
)


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


def scifact_questions(split: str) -> list[Question]:
    qrels: dict[str, list[str]] = {}
    for line in (SCIFACT / "qrels" / f"{split}.tsv").read_text().splitlines()[1:]:
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
    parser.add_argument("--split", default="train", help="SciFact claims: train (choose) or test (report)")
    parser.add_argument("--modes", default="hybrid,vector,fulltext", help="comma-separated search modes")
    args = parser.parse_args()
    scifact, filings = workbench_in(args.data_dir), workbench_in(args.filings_dir)
    abstracts = [Upload(f"{d['_id']}.txt", f"{d['title']} {d['text']}".encode()) for d in scifact_corpus()]
    ensure(scifact, "scifact", abstracts)
    store = args.filings_store
    ensure(filings, store, [Upload(p.name, p.read_bytes()) for p in sorted((FINANCEBENCH / "pdfs").glob("*.pdf"))])
    finance = list(read_questions((FINANCEBENCH / "questions.jsonl").read_bytes(), "questions.jsonl"))
    sets = {
        f"SciFact {args.split}": (scifact_questions(args.split), "scifact", "filings"),
        "FinanceBench dev": (finance, "filings", "scifact"),
    }
    rows: list[dict[str, object]] = []
    for mode, minimums in MINIMUMS.items():
        if mode.value not in args.modes.split(","):
            continue
        options = SearchOptions(top_k=K, mode=mode)

        def scored(hits: list[Hit], query: str, mode: Mode = mode) -> list[Hit]:  # as chat scores them
            return with_cosines(query, hits, get_embedder(MINILM).embed) if mode is Mode.FULLTEXT else hits

        ask = {
            "scifact": lambda q, o=options: scored(
                scifact.search.run(scifact.actor("admin"), "scifact", q, options=o), q
            ),
            "filings": lambda q, o=options: scored(filings.search.run(filings.actor("admin"), store, q, options=o), q),
        }

        def measured(hits: list[Hit]) -> tuple[float, float]:  # (relevance, best cosine) of one question's hits
            return best_relevance(hits) or 0.0, best_cosine(hits) or 0.0

        everyday = {name: [measured(list(ask[name](q))) for q in EVERYDAY] for name in ask}
        product = refusal_minimum(mode, MINILM)
        for name, (questions, own, other) in sets.items():
            related: list[tuple[Hit | None, tuple[float, float]]] = []
            unrelated: list[tuple[float, float]] = []
            for question in questions:
                hits = list(ask[own](question.question))
                related.append((first_relevant(question, hits), measured(hits)))
                unrelated.append(measured(list(ask[other](question.question))))
            answerable_pairs = [pair for hit, pair in related if hit is not None]
            answerable = [relevance for relevance, _ in answerable_pairs]
            noise = [relevance for relevance, _ in unrelated + everyday[own]]
            if mode is Mode.HYBRID:  # chat's rule: the fused minimum, or a cosine reaching the vector minimum
                cosine = refusal_minimum(Mode.VECTOR, MINILM) or 1.0

                def answers(pair: tuple[float, float], cosine: float = cosine, fused: float = product or 0.0) -> bool:
                    return pair[0] >= fused or pair[1] >= cosine

                rows.append({
                    "mode": mode.value, "questions": name,
                    "minimum": f"chat: fused {product:g} or cosine {cosine:g}",
                    "unrelated let through": round(sum(map(answers, unrelated + everyday[own])) / len(noise), 3),
                    "everyday let through": round(sum(map(answers, everyday[own])) / len(EVERYDAY), 3),
                    "related refused": round(sum(not answers(p) for p in answerable_pairs) / max(len(answerable), 1), 3),
                    "relevant hit in top 10": round(len(answerable) / len(questions), 3),
                })  # fmt: skip
            for minimum in minimums:
                rows.append({
                    "mode": mode.value, "questions": name,
                    "minimum": f"{minimum:g}" + (" (default)" if product == minimum else ""),
                    "unrelated let through": round(sum(b >= minimum for b in noise) / len(noise), 3),
                    "everyday let through": round(sum(b >= minimum for b, _ in everyday[own]) / len(EVERYDAY), 3),
                    "related refused": round(sum(b < minimum for b in answerable) / max(len(answerable), 1), 3),
                    "relevant hit in top 10": round(len(answerable) / len(questions), 3),
                })  # fmt: skip
    print("\nunrelated: each set's questions asked of the other store, and the everyday questions of its own store")
    print("related refused: of the questions whose relevant hit is in the top 10, the share whose best hit is below")
    print_table(rows)


if __name__ == "__main__":
    main()
