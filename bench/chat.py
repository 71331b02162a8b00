"""Speed of the bundled chat model (SmolLM2-135M-Instruct, Q4_1 GGUF, llama.cpp) through LiteLLM.

    .venv/bin/python bench/chat.py [--tokens 128]

Prints load time, then time to first token and generated tokens per second per prompt, once warm.
"""

from __future__ import annotations

import argparse
import statistics
import time

from common import print_table

from core import llm

PROMPTS = [
    "Summarise in three sentences why companies report quarterly earnings.",
    "Explain what a balance sheet is to a new analyst.",
    "List five risks a manufacturing company might disclose in its annual report.",
    "What is the difference between revenue and profit?",
    "Write a short email asking a colleague for the Q3 sales figures.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=128, help="tokens to generate per prompt")
    args = parser.parse_args()
    model = f"{llm.LOCAL_PROVIDER}/{llm.LOCAL_CHAT}"
    started = time.perf_counter()
    list(llm.stream_chat(model, [{"role": "user", "content": "Hello"}], params={"max_tokens": 4}))
    load_s = time.perf_counter() - started
    rows: list[dict[str, object]] = []
    for prompt in PROMPTS:
        done: list[llm.CompletionResponse] = []
        started = time.perf_counter()
        first = None
        for _ in llm.stream_chat(
            model,
            [{"role": "user", "content": prompt}],
            params={"max_tokens": args.tokens, "temperature": 0.2},
            on_done=done.append,
        ):
            first = first or time.perf_counter() - started
        total = time.perf_counter() - started
        tokens = done[0].completion_tokens
        rows.append(
            {
                "prompt": prompt[:40] + "…",
                "prompt tokens": done[0].prompt_tokens,
                "generated": tokens,
                "first token ms": (first or 0) * 1000,
                "tokens/s": (tokens - 1) / (total - (first or 0)) if tokens > 1 else 0.0,
            }
        )
    print(f"{model}: first call (load + import) {load_s:.2f} s\n")
    print_table(rows)
    speeds = [float(r["tokens/s"]) for r in rows]  # type: ignore[arg-type]
    print(f"\nmedian {statistics.median(speeds):.1f} generated tokens/s (target: roughly 50+)")


if __name__ == "__main__":
    main()
