"""Answers on long real filings: the FinanceBench dev set (ten 10-Ks in one store, 36 questions with a gold answer and
evidence pages), asked through the product's chat in each answer mode.

    .venv/bin/python bench/answers.py [--cache DIR] [--model MODEL] [--limit N]

Modes: `extractive` (the offline default: quotes), `generative` with the bundled SmolLM2-135M, and, with
`--model` (any model-list name or LiteLLM model whose key is set), generative with that model. Per mode:
- gold figure: the answer states a figure equal to one of the gold answer's (in any written form, core.grounding);
- evidence page: a citation points at an evidence page of the right filing;
- grounded: the product's own check found nothing unsupported; refused: it said the documents do not say;
- unflagged: figures the answer states whose digits appear in no source it was given, and that the check did
  NOT flag (an independent plain-text count; target 0).
`--cache DIR` keeps chunk embeddings across runs (as bench/longdocs.py does).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from common import ROOT, SHARED_DATA, print_table, scratch_workbench
from longdocs import cached_embeddings

sys.path.insert(0, str(ROOT))

from core.grounding import figures
from core.ingest import Upload
from core.options import AnswerMode, AskOptions

FINANCEBENCH = SHARED_DATA / "financebench-dev"
DIGITS = re.compile(r"[^\d.]")


def unflagged(answer: str, sources: list[str], flagged: tuple[str, ...]) -> int:
    """Figures whose digits occur in no source text, and that the check did not flag."""
    plain = [DIGITS.sub("", s.replace(",", "")) for s in sources]
    haystack = " ".join(s.replace(",", "") for s in sources)
    count = 0
    for figure in figures(answer):
        digits = DIGITS.sub("", figure.text.replace(",", "")).strip(".")
        if digits and digits not in haystack and not any(digits in p for p in plain) and figure.text not in flagged:
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--model", help="also answer with this configured model (generative)")
    parser.add_argument("--limit", type=int, help="only the first N questions")
    args = parser.parse_args()
    if args.cache:
        cached_embeddings(args.cache)
    questions = [json.loads(line) for line in (FINANCEBENCH / "questions.jsonl").read_text().splitlines()]
    questions = questions[: args.limit] if args.limit else questions
    workbench, scratch = scratch_workbench()
    me = workbench.actor("admin")
    workbench.stores.create(me, "filings")
    uploads = [Upload(p.name, p.read_bytes()) for p in sorted((FINANCEBENCH / "pdfs").glob("*.pdf"))]
    workbench.documents.ingest(me, "filings", uploads)
    modes = {"extractive (offline default)": AskOptions(mode=AnswerMode.EXTRACTIVE)}
    modes["generative, bundled SmolLM2-135M"] = AskOptions(mode=AnswerMode.GENERATIVE, temperature=0.0)
    if args.model:
        modes[f"generative, {args.model}"] = AskOptions(model=args.model, mode=AnswerMode.GENERATIVE, temperature=0.0)
    rows = []
    for label, options in modes.items():
        tally = {"gold figure": 0, "evidence page": 0, "grounded": 0, "refused": 0, "unflagged": 0, "figures": 0}
        started = time.perf_counter()
        for q in questions:
            stream, answer = workbench.chat.ask(me, "filings", q["question"], options=options)
            "".join(stream)
            gold = figures(q["answer"])
            said = figures(answer.text)
            tally["figures"] += len(said)
            tally["gold figure"] += any(f.found_in(gold) or g.found_in([f]) for f in said for g in gold)
            pages = {(e["doc_name"], e["page"]) for e in q["evidence"]}
            tally["evidence page"] += any((Path(c.filename).stem, c.page) in pages for c in answer.citations)
            check = answer.grounding
            tally["grounded"] += bool(check and check.grounded and not answer.refused)
            tally["refused"] += answer.refused
            hits = workbench.search.run(me, "filings", answer.query or q["question"], options=options.search)
            sources = [h.text for h in hits[: len(answer.retrieved)]]  # what the answer was given
            tally["unflagged"] += unflagged(answer.text, sources, check.figures if check else ())
        n = len(questions)
        rows.append({
            "mode": label,
            "gold figure": round(tally["gold figure"] / n, 3),
            "cites an evidence page": round(tally["evidence page"] / n, 3),
            "grounded": round(tally["grounded"] / n, 3),
            "refused": round(tally["refused"] / n, 3),
            "figures stated": tally["figures"],
            "unsupported, not flagged": tally["unflagged"],
            "s/answer": round((time.perf_counter() - started) / n, 1),
        })  # fmt: skip
    print(f"\nFinanceBench dev: {len(questions)} questions, ten filings in one store\n")
    print_table(rows)
    scratch.cleanup()


if __name__ == "__main__":
    main()
