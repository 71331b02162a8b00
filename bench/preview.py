"""Chunk-preview latency: the first parse of a 100-page PDF, then re-chunking as a slider moves.

    .venv/bin/python bench/preview.py [--pages 100]

Target: re-chunking a 100-page document after the first parse in under 200 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time

from common import print_table, scratch_workbench
from parse_pdf import filing

from core.options import ChunkSettings, Strategy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=100)
    args = parser.parse_args()
    workbench, scratch = scratch_workbench()
    data = filing(args.pages)
    workbench.documents.preview(
        workbench.actor("admin"), "warm.txt", b"warm up the tokenizer", chunking=ChunkSettings(Strategy.TOKENS, 50, 0)
    )

    started = time.perf_counter()
    first = workbench.documents.preview(workbench.actor("admin"), "filing.pdf", data, chunking=ChunkSettings())
    first_ms = (time.perf_counter() - started) * 1000
    rows: list[dict[str, object]] = [
        {
            "step": "first preview (parse + chunk)",
            "strategy": "recursive",
            "chunks": len(first.chunks),
            "p50 ms": first_ms,
            "max ms": first_ms,
        }
    ]
    slider = [(size, size // 10) for size in range(200, 1201, 50)]
    for strategy in Strategy:
        timings, chunks = [], 0
        for size, overlap in slider:
            settings = ChunkSettings(
                strategy,
                size // 4 if strategy is Strategy.TOKENS else size,
                overlap // 4 if strategy is Strategy.TOKENS else overlap,
            )
            started = time.perf_counter()
            result = workbench.documents.preview(workbench.actor("admin"), "filing.pdf", data, chunking=settings)
            timings.append((time.perf_counter() - started) * 1000)
            assert result.from_cache
            chunks = len(result.chunks)
        rows.append(
            {
                "step": f"re-chunk, {len(slider)} slider moves",
                "strategy": strategy.value,
                "chunks": chunks,
                "p50 ms": statistics.median(timings),
                "max ms": max(timings),
            }
        )
    print(f"{args.pages}-page PDF, {len(first.parsed.text):,} characters")
    print_table(rows)
    scratch.cleanup()


if __name__ == "__main__":
    main()
