"""Does bfloat16 embedding change retrieval? SciFact nDCG@10 with vectors alone, float32 against bfloat16.

    .venv/bin/python bench/embed_precision.py [--split test]

Every SciFact abstract (title and text, cut at the model's window as ingest would) is embedded twice with the
bundled model, once per precision, and the split's claims are ranked by cosine alone: the embedding is the only
thing that differs. The product switches to bfloat16 only on CPUs that multiply it in hardware
(core.embedding.bfloat16_native); the bar is a change of nDCG@10 within 0.003.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pytrec_eval
from common import print_table, scifact_corpus
from eval_retrieval import load_queries

from core.embedding import MINILM, bfloat16_native, get_embedder, local_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    if not bfloat16_native():
        raise SystemExit("This CPU has no hardware bfloat16: the product embeds in float32 here, nothing to compare.")
    corpus = list(scifact_corpus())
    ids, texts = [d["_id"] for d in corpus], [f"{d['title']} {d['text']}" for d in corpus]
    queries, qrels = load_queries(args.split)
    embedder, model = get_embedder(MINILM), local_model(MINILM)
    rows, runs = [], {}
    for bfloat16 in (False, True):
        model.bfloat16 = bfloat16
        started = time.perf_counter()
        documents = embedder.embed(texts)
        seconds = time.perf_counter() - started
        asked = embedder.embed(list(queries.values()))
        run = {}
        for query_id, vector in zip(queries, asked, strict=True):
            scores = documents @ vector
            top = np.argsort(-scores)[:100]
            run[query_id] = {ids[i]: float(scores[i]) for i in top}
        per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut_10"}).evaluate(run)
        ndcg = sum(per_query.get(q, {}).get("ndcg_cut_10", 0.0) for q in qrels) / len(qrels)
        runs[bfloat16] = documents
        rows.append(
            {
                "precision": "bfloat16" if bfloat16 else "float32",
                "abstracts": len(texts),
                "embed s": seconds,
                "abstracts/s": len(texts) / seconds,
                f"nDCG@10 ({args.split}, vectors alone)": f"{ndcg:.4f}",
            }
        )
    print_table(rows)
    cosines = (runs[False] * runs[True]).sum(axis=1)
    print(f"\ncosine between a text's two vectors: min {cosines.min():.5f}, mean {cosines.mean():.6f}")


if __name__ == "__main__":
    main()
