"""End-to-end `ask` latency with the bundled model: retrieval, prompt building, time to first token, generation.

    .venv/bin/python bench/rag.py [--questions 5] [--tokens 128]

Ingests a generated 20-page report through the normal path, then asks questions about it.
"""

from __future__ import annotations

import argparse
import statistics
import time

from common import print_table, scratch_workbench
from parse_pdf import filing

from core import llm, rag
from core.ingest import Upload
from core.options import AskOptions

QUESTIONS = [
    "What does the report say about deferred tax liabilities?",
    "How is goodwill impairment described?",
    "Summarise the operating income discussion.",
    "What lease obligations are mentioned?",
    "What happened to cash flow in the fiscal quarter?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=128)
    args = parser.parse_args()
    workbench, scratch = scratch_workbench()
    workbench.stores.create(workbench.actor("admin"), "bench")
    workbench.documents.ingest(workbench.actor("admin"), "bench", [Upload("report.pdf", filing(20))])
    model = f"{llm.LOCAL_PROVIDER}/{llm.LOCAL_CHAT}"
    list(llm.stream_chat(model, [{"role": "user", "content": "warm up"}], params={"max_tokens": 2}))
    workbench.search.run(workbench.actor("admin"), "bench", "warm up")
    rows: list[dict[str, object]] = []
    for question in QUESTIONS[: args.questions]:
        started = time.perf_counter()
        hits = workbench.search.run(workbench.actor("admin"), "bench", question)
        retrieval = time.perf_counter() - started
        started = time.perf_counter()
        messages = rag.build_messages(
            question,
            hits,
            system_prompt=None,
            history=[],
            window_tokens=llm.context_window(model),
            max_tokens=args.tokens,
        ).messages
        prompt = time.perf_counter() - started
        done: list[llm.CompletionResponse] = []
        started = time.perf_counter()
        first = None
        for _ in llm.stream_chat(model, messages, params={"max_tokens": args.tokens}, on_done=done.append):
            first = first or time.perf_counter() - started
        generation = time.perf_counter() - started
        tokens = done[0].completion_tokens
        rows.append(
            {
                "question": question[:36] + "…",
                "retrieval ms": retrieval * 1000,
                "prompt ms": prompt * 1000,
                "prompt tokens": done[0].prompt_tokens,
                "first token ms": (first or 0) * 1000,
                "generation s": generation,
                "tokens": tokens,
                "tokens/s": (tokens - 1) / (generation - (first or 0)) if tokens > 1 else 0.0,
            }
        )
    started = time.perf_counter()
    stream, _ = workbench.chat.ask(
        workbench.actor("admin"), "bench", QUESTIONS[0], options=AskOptions(max_tokens=args.tokens)
    )
    "".join(stream)
    whole = time.perf_counter() - started
    print_table(rows)
    print(
        f"\nmedian first token {statistics.median(float(r['first token ms']) for r in rows):.0f} ms (prompt processing of ~5 sources), "  # type: ignore[arg-type]
        f"median {statistics.median(float(r['tokens/s']) for r in rows):.1f} tokens/s; one whole `ask` call: {whole:.2f} s"
    )  # type: ignore[arg-type]
    scratch.cleanup()


if __name__ == "__main__":
    main()
