"""Where ingest time goes, per stage, and the whole pipeline's chunks per second.

    .venv/bin/python bench/ingest.py [FILE ...] [--precision] [--pipeline-only]

For each file (default: two filings from ../shared/data/financebench-dev): parse, chunk (the windows ingest
stores), embed and write, each timed on its own with the product's own functions; then the whole pipeline
(`documents.ingest_paths`, catalog included) on the same files into a fresh store. `--precision` also embeds the
same chunks in float32 and reports the speed ratio and the smallest cosine between the two vectors of a chunk.
`--pipeline-only` runs just the pipeline (for `farm-bench --vs` against another checkout).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from common import SHARED_DATA, print_table, scratch_workbench

from core import parsing
from core.embedding import LOCAL_BATCH_SIZE, get_embedder, local_model
from core.windows import windows

FILINGS = SHARED_DATA / "financebench-dev" / "pdfs"
DEFAULT_FILES = [FILINGS / "3M_2018_10K.pdf", FILINGS / "AMAZON_2017_10K.pdf"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path, default=DEFAULT_FILES)
    parser.add_argument("--precision", action="store_true", help="also embed in float32 and compare")
    parser.add_argument("--pipeline-only", action="store_true", help="only the whole pipeline, one line")
    args = parser.parse_args()

    workbench, scratch = scratch_workbench()
    admin = workbench.actor("admin")
    workbench.stores.create(admin, "stages")
    workbench.stores.create(admin, "pipeline")
    store = workbench.stores.get(admin, "stages")
    embedder = get_embedder(store.embedding_model)
    embedder.embed(["warm up the model and LiteLLM"] * 8)  # imports and loads, untimed
    if not args.pipeline_only:
        stages(workbench, store, args.files, precision=args.precision)
    started = time.perf_counter()
    results = workbench.documents.ingest_paths(admin, "pipeline", args.files)
    seconds = time.perf_counter() - started
    chunks = sum(r.chunks for r in results)
    print(f"pipeline: {len(args.files)} files, {chunks:,} chunks in {seconds:.1f} s = {chunks / seconds:.1f} chunks/s")
    scratch.cleanup()


def stages(workbench, store, files: list[Path], *, precision: bool) -> None:  # type: ignore[no-untyped-def]
    embedder = get_embedder(store.embedding_model)
    backend = workbench.services.backend(store.backend)
    model = local_model(store.embedding_model) if embedder.local else None
    rows = []
    for path in files:
        data = path.read_bytes()
        clock = time.perf_counter()
        parsed = parsing.parse(path.name, data)
        parse_s, clock = time.perf_counter() - clock, time.perf_counter()
        chunks = windows(
            parsed,
            document_id=path.stem,
            settings=store.chunking,
            token_spans=embedder.token_spans,
            window=embedder.window_tokens,
        )
        chunk_s, clock = time.perf_counter() - clock, time.perf_counter()
        texts = [c.embedded for c in chunks]
        vectors = embedder.embed(texts)
        embed_s, clock = time.perf_counter() - clock, time.perf_counter()
        backend.add(store.collection, chunks, vectors)
        write_s = time.perf_counter() - clock
        total = parse_s + chunk_s + embed_s + write_s
        row: dict[str, object] = {
            "file": path.name,
            "MB": len(data) / 2**20,
            "chunks": len(chunks),
            "parse s": parse_s,
            "chunk s": chunk_s,
            "embed s": embed_s,
            "write s": write_s,
            "embed share": f"{embed_s / total:.0%}",
            "chunks/s": len(chunks) / total,
        }
        if precision and model is not None:
            was, model.bfloat16 = model.bfloat16, False
            clock = time.perf_counter()
            exact = embedder.embed(texts)
            float32_s = time.perf_counter() - clock
            model.bfloat16 = was
            row["embed s float32"] = float32_s
            row["speed-up"] = f"{float32_s / embed_s:.2f}x"
            row["min cosine"] = f"{float((exact * vectors).sum(axis=1).min()):.5f}"
        rows.append(row)
    print(f"batch size {LOCAL_BATCH_SIZE}, bfloat16: {model.bfloat16 if model else 'remote model'}")
    print_table(rows)
    print()


if __name__ == "__main__":
    main()
