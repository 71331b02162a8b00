"""Retrieval quality on a BEIR dataset (SciFact by default), scored with trec_eval semantics.

    .venv/bin/python bench/eval_retrieval.py [--split test] [--json] [--data-dir data/eval]

Each corpus entry is written out as one text file (`title + " " + text`) and ingested through the
product's normal ingest path into a store with the default chunking; a document's rank is its best
chunk's rank. A second store embeds each abstract whole (one chunk, truncated by the model at 256
tokens, as MTEB does) to validate the harness against the published numbers. Stores are kept in
--data-dir and reused on the next run. Weights are tuned on the train queries, reported on --split.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import pytrec_eval
from common import ROOT, SCIFACT, print_table, scifact_corpus

from core import fusion
from core.config import load_settings
from core.evaluation import Question
from core.evaluation import evaluate as product_evaluate
from core.fusion import fuse
from core.ingest import Upload
from core.options import ChunkSettings, Fusion, Mode, Reranker, RerankKind, SearchOptions, Unit
from core.ranking import DEFAULT_WEIGHT
from core.records import Hit
from core.workbench import Workbench

HALVES = (2.0, 5.0, 10.0, 20.0, 40.0)  # BM25 scores at which the saturated score is 0.5, tried on the train split
MEASURES = {"ndcg_cut_10", "recall_10", "recall_100", "recip_rank"}
DEPTH = 1000  # chunks fetched per query (documents are ranked by their best chunk)
PUBLISHED = {
    "BM25, Elasticsearch multifield (BEIR)": 0.665,
    "BM25 flat, title+text (Anserini)": 0.679,
    "BM25 + cross-encoder rerank (BEIR)": 0.688,
    "all-MiniLM-L6-v2 dense (MTEB)": 0.645,
    "bge-small-en-v1.5 dense (MTEB)": 0.713,
}
WHOLE = ChunkSettings(size=100_000, overlap=0)  # one chunk per abstract


def load_queries(split: str) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    qrels: dict[str, dict[str, int]] = {}
    for line in (SCIFACT / "qrels" / f"{split}.tsv").read_text().splitlines()[1:]:
        query_id, doc_id, score = line.split("\t")
        qrels.setdefault(query_id, {})[doc_id] = int(score)
    queries = {}
    for line in (SCIFACT / "queries.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["_id"] in qrels:
            queries[row["_id"]] = row["text"]
    return queries, qrels


def ensure_store(workbench: Workbench, name: str, chunking: ChunkSettings | None) -> float:
    """Ingest the corpus once (normal ingest path); returns the seconds it took (0 when reused)."""
    corpus = list(scifact_corpus())
    existing = {s.store.name: s for s in workbench.stores.visible(workbench.actor("admin"))}
    if name in existing and existing[name].documents == len(corpus):
        return 0.0
    if name in existing:
        workbench.stores.delete(workbench.actor("admin"), name)
    workbench.stores.create(workbench.actor("admin"), name, chunking=chunking)
    uploads = [Upload(f"{d['_id']}.txt", f"{d['title']} {d['text']}".encode()) for d in corpus]
    started = time.perf_counter()
    for i in range(0, len(uploads), 500):
        results = workbench.documents.ingest(workbench.actor("admin"), name, uploads[i : i + 500])
        failed = [r for r in results if r.status.value == "failed"]
        if failed:
            raise SystemExit(f"{len(failed)} abstracts failed to ingest, e.g. {failed[0].error}")
        print(f"  {name}: {min(i + 500, len(uploads))}/{len(uploads)} abstracts", flush=True)
    return time.perf_counter() - started


def doc_run(hits: list[Hit]) -> dict[str, float]:
    """Documents ranked by their best chunk; scores strictly decreasing so trec_eval keeps our order."""
    ranked: list[str] = []
    for hit in hits:
        doc = Path(hit.filename).stem
        if doc not in ranked:
            ranked.append(doc)
        if len(ranked) == 100:
            break
    return {doc: float(len(ranked) - i) for i, doc in enumerate(ranked)}


def score(runs: dict[str, dict[str, float]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, MEASURES)
    per_query = evaluator.evaluate(runs)
    top10 = {q: dict(sorted(r.items(), key=lambda kv: -kv[1])[:10]) for q, r in runs.items()}
    mrr10 = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top10)
    n = len(qrels)
    mean = lambda measure, table: sum(table.get(q, {}).get(measure, 0.0) for q in qrels) / n  # noqa: E731
    return {
        "ndcg@10": mean("ndcg_cut_10", per_query),
        "recall@10": mean("recall_10", per_query),
        "recall@100": mean("recall_100", per_query),
        "mrr@10": mean("recip_rank", mrr10),
    }


def lists(workbench: Workbench, store: str, queries: dict[str, str]) -> dict[str, tuple[list[Hit], list[Hit]]]:
    """Each query's vector and BM25 chunk lists, fetched once and fused in every way afterwards."""
    out = {}
    for query_id, text in queries.items():
        vector = workbench.search.run(
            workbench.actor("admin"),
            store,
            text,
            options=SearchOptions(mode=Mode.VECTOR, candidates=DEPTH, unit=Unit.CHUNK),
            limit=DEPTH,
        )
        keyword = workbench.search.run(
            workbench.actor("admin"),
            store,
            text,
            options=SearchOptions(mode=Mode.FULLTEXT, candidates=DEPTH, unit=Unit.CHUNK),
            limit=DEPTH,
        )
        out[query_id] = (_plain(vector), _plain(keyword))
    return out


def _plain(hits: list[Hit]) -> list[Hit]:
    """Back to the first-stage scores (fuse() reads hit.score)."""
    return [
        replace(
            h,
            score=(
                h.breakdown.vector
                if h.breakdown and h.breakdown.vector is not None
                else h.breakdown.keyword
                if h.breakdown
                else h.score
            )
            or 0.0,
        )
        for h in hits
    ]


def evaluate(
    cached: dict[str, tuple[list[Hit], list[Hit]]], qrels: dict[str, dict[str, int]], options: SearchOptions
) -> dict[str, float]:
    return score({q: doc_run(fuse(v, k, options)) for q, (v, k) in cached.items()}, qrels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="test")
    parser.add_argument("--json", action="store_true", help="one JSON object per configuration and line")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data" / "eval")
    parser.add_argument("--skip-whole", action="store_true", help="skip the whole-abstract validation store")
    parser.add_argument("--skip-mmr", action="store_true", help="skip the rows reranked with MMR")
    parser.add_argument("--skip-tune", action="store_true", help="skip tuning on the train split (use the defaults)")
    args = parser.parse_args()
    workbench = Workbench(load_settings(env={}, secrets_file=args.data_dir / "none.toml", data_dir=args.data_dir))

    timings: dict[str, float] = {}
    timings["ingest default chunking (s)"] = ensure_store(workbench, "scifact", None)
    if not args.skip_whole:
        timings["ingest whole abstracts (s)"] = ensure_store(workbench, "scifact-whole", WHOLE)
    train_queries, train_qrels = load_queries("train")
    test_queries, test_qrels = load_queries(args.split)

    weights = [round(0.1 * i, 1) for i in range(1, 10)]
    product_half = fusion.BM25_HALF
    grid: dict[tuple[float, float], float] = dict.fromkeys(((h, w) for h in HALVES for w in weights), 0.0)
    train = {} if args.skip_tune else lists(workbench, "scifact", train_queries)
    for half in HALVES if train else ():
        fusion.BM25_HALF = half
        for w in weights:
            options = SearchOptions(mode=Mode.HYBRID, fusion=Fusion.WEIGHTED, weight=w)
            grid[(half, w)] = evaluate(train, train_qrels, options)["ndcg@10"]
    fusion.BM25_HALF = product_half
    tuned = {w: grid[(product_half, w)] for w in weights}
    best_weight = max(tuned, key=lambda w: tuned[w]) if train else DEFAULT_WEIGHT
    if train:
        print("Train nDCG@10 by BM25 half-saturation score (rows) and vector weight (columns):")
        print_table([{"BM25 half": h, **{f"{w}": f"{grid[(h, w)]:.3f}" for w in weights}} for h in HALVES])

    started = time.perf_counter()
    test = lists(workbench, "scifact", test_queries)
    timings[f"{len(test_queries)} queries x 2 lists (s)"] = time.perf_counter() - started
    configs: dict[str, SearchOptions] = {
        "vector": SearchOptions(mode=Mode.VECTOR),
        "fulltext": SearchOptions(mode=Mode.FULLTEXT),
        "hybrid-rrf": SearchOptions(mode=Mode.HYBRID, fusion=Fusion.RRF),
        "hybrid-weighted": SearchOptions(mode=Mode.HYBRID, fusion=Fusion.WEIGHTED, weight=best_weight),
        "hybrid-weighted 0.7": SearchOptions(mode=Mode.HYBRID, fusion=Fusion.WEIGHTED, weight=0.7),
        "hybrid-weighted 0.8": SearchOptions(mode=Mode.HYBRID, fusion=Fusion.WEIGHTED, weight=0.8),
        "product default": SearchOptions(),
    }
    rows: list[dict[str, object]] = []
    for name, options in configs.items():
        rows.append({"config": name, "store": "scifact (default chunking)", **evaluate(test, test_qrels, options)})
    runs = {  # the whole search path: fusion, then the named-document bonus, glossary expansions, statement pages
        q: doc_run(workbench.search.run(workbench.actor("admin"), "scifact", text, options=SearchOptions(), limit=100))
        for q, text in test_queries.items()
    }
    rows.append({"config": "product default, whole search path", "store": "scifact (default chunking)",
                 **score(runs, test_qrels)})  # fmt: skip
    if not args.skip_mmr:
        rows += mmr_rows(workbench, test_queries, test_qrels, configs)
    if not args.skip_whole:
        whole = lists(workbench, "scifact-whole", test_queries)
        for name in ("vector", "fulltext", "hybrid-rrf"):
            rows.append(
                {
                    "config": f"{name} (whole abstract)",
                    "store": "scifact-whole (validation)",
                    **evaluate(whole, test_qrels, configs[name]),
                }
            )

    product = evaluate_with_product(workbench, test_queries, test_qrels, configs)

    if args.json:
        for row in rows:
            print(json.dumps({k: row[k] for k in ("config", "ndcg@10", "recall@10", "recall@100", "mrr@10")}))
        return
    print(
        f"SciFact {args.split}: {len(test_queries)} queries; hybrid-weighted uses the train-tuned vector weight {best_weight} "
        f"(train nDCG@10 by weight: {', '.join(f'{w}: {v:.3f}' for w, v in tuned.items())})\n"
    )
    print_table([{k: (f"{v:.3f}" if isinstance(v, float) else v) for k, v in r.items()} for r in rows])
    print(
        "\nThe same queries through core.evaluation (what `python -m core eval` and the Evaluate page run): "
        "hits are chunks, so a second chunk of an abstract takes a rank; each relevant abstract counts once\n"
    )
    print_table(product)
    print("\nPublished references (nDCG@10, test):")
    print_table([{"system": k, "ndcg@10": f"{v:.3f}"} for k, v in PUBLISHED.items()])
    print("\nTimings:")
    print_table([{"step": k, "seconds": f"{v:.1f}"} for k, v in timings.items()])


def evaluate_with_product(
    workbench: Workbench, queries: dict[str, str], qrels: dict[str, dict[str, int]], configs: dict[str, SearchOptions]
) -> list[dict[str, object]]:
    """Every configuration scored by the product's own evaluation code over its normal search path."""
    questions = [
        Question(text, "|".join(f"{doc}.txt" for doc, grade in qrels[q].items() if grade > 0), id=q)
        for q, text in queries.items()
    ]
    settings = {name: replace(options, top_k=10) for name, options in configs.items()}
    result = product_evaluate(
        lambda q, o: workbench.search.run(workbench.actor("admin"), "scifact", q, options=o), questions, settings, k=10
    )
    return result.table()


def mmr_rows(
    workbench: Workbench, queries: dict[str, str], qrels: dict[str, dict[str, int]], configs: dict[str, SearchOptions]
) -> list[dict[str, object]]:
    """The same configurations with MMR over the top 100 candidates (through the product's search path)."""
    rows: list[dict[str, object]] = []
    for name, options in configs.items():
        mmr = replace(options, rerank=Reranker(RerankKind.MMR), candidates=100, mmr_lambda=0.7)
        runs = {
            q: doc_run(workbench.search.run(workbench.actor("admin"), "scifact", text, options=mmr, limit=100))
            for q, text in queries.items()
        }
        rows.append({"config": f"{name} + mmr", "store": "scifact (default chunking)", **score(runs, qrels)})
    return rows


if __name__ == "__main__":
    main()
