"""Ingest throughput: the whole pipeline against the bare embedding model on the same chunk texts.

    .venv/bin/python bench/ingest.py [--docs N]

SciFact abstracts (../shared/data/scifact) are written out as .txt files, ingested through the normal
path (read, hash, parse, chunk, embed, write to LanceDB, catalog), then the very same chunk texts are
embedded by the bare sentence-transformers model. The ratio is the pipeline's share of the ceiling.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from common import print_table, scifact_corpus, scratch_workbench

from core.embedding import LOCAL_BATCH_SIZE, get_embedder, local_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=2000, help="number of SciFact abstracts (default 2000; all: 5183)")
    parser.add_argument("--backend", default="lancedb", help="lancedb or milvus (default: %(default)s)")
    args = parser.parse_args()

    workbench, scratch = scratch_workbench()
    folder = Path(scratch.name) / "files"
    folder.mkdir()
    for doc in scifact_corpus(args.docs):
        (folder / f"{doc['_id']}.txt").write_text(f"{doc['title']} {doc['text']}", encoding="utf-8")
    paths = sorted(folder.iterdir())
    workbench.stores.create(workbench.actor("admin"), "bench", backend=args.backend)
    store = workbench.stores.get(workbench.actor("admin"), "bench")
    get_embedder(store.embedding_model).embed(["warm up the model and LiteLLM"] * 8)  # imports and loads, untimed
    model = local_model(store.embedding_model)

    started = time.perf_counter()
    results = workbench.documents.ingest_paths(workbench.actor("admin"), "bench", paths)
    pipeline_seconds = time.perf_counter() - started
    failed = [r for r in results if r.status.value == "failed"]
    if failed:
        raise SystemExit(f"{len(failed)} files failed, e.g. {failed[0].error}")

    texts = [c.content for batch, _ in workbench.services.backend(store.backend).scan(store.collection) for c in batch]
    started = time.perf_counter()
    model.model.encode(texts, batch_size=LOCAL_BATCH_SIZE, normalize_embeddings=True, show_progress_bar=False)
    bare_seconds = time.perf_counter() - started

    chunks = len(texts)
    print_table(
        [
            {
                "what": "pipeline (read+parse+chunk+embed+write)",
                "backend": args.backend,
                "documents": len(paths),
                "chunks": chunks,
                "seconds": pipeline_seconds,
                "chunks/s": chunks / pipeline_seconds,
            },
            {
                "what": "bare model, same chunk texts",
                "backend": "-",
                "documents": len(paths),
                "chunks": chunks,
                "seconds": bare_seconds,
                "chunks/s": chunks / bare_seconds,
            },
        ]
    )
    print(f"\npipeline reaches {bare_seconds / pipeline_seconds:.1%} of the bare model's throughput (target >= 90%)")
    scratch.cleanup()


if __name__ == "__main__":
    main()
