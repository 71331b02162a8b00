"""Answers on long real filings: the FinanceBench dev set (ten 10-Ks in one store, 36 questions with a gold answer and
evidence pages), asked through the product's chat in each answer mode, and the computed-answer cases.

    .venv/bin/python bench/answers.py [--filings-dir data/longdocs] [--modes extractive,generative] [--model MODEL]
                                      [--limit N]

Per mode:
- page-recall@5: an evidence page of the right filing is among the five sources the answer was given;
- quotes the evidence (of retrieved): of the questions whose evidence page was given, the share whose answer cites
  it (the answer's own quality, apart from retrieval; target 0.8);
- cites an evidence page: of all questions (target 0.5);
- key fact (printed): of the questions whose gold figure is printed on an evidence page (not computed), the share
  whose answer states it (target 0.4);
- grounded: the product's own check found nothing unsupported; refused: it said the documents do not say;
- unflagged: figures the answer states whose digits appear in no source it was given, and that the check did NOT
  flag (an independent plain-text count; target 0).
Then the computed-answer cases (tests/cases/computed_cases.jsonl, written from the dev filings' evidence pages): right
working verified ("computed from [n]"), wrong working or operands no source prints flagged (targets: 0 right ones
flagged, 0 wrong ones let through).

The filings store in --filings-dir is reused when it holds the ten filings (bench/calibration.py builds the same
one), else ingested through the product. Modes: `extractive` (the offline default: quotes), `generative` with the
bundled SmolLM2-135M, and with `--model`, generative with that model.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from calibration import ensure, workbench_in
from common import ROOT, SHARED_DATA, print_table

sys.path.insert(0, str(ROOT))

from core import grounding
from core.grounding import figures
from core.ingest import Upload
from core.options import AnswerMode, AskOptions

FINANCEBENCH = SHARED_DATA / "financebench-dev"
CASES = ROOT / "tests" / "cases" / "computed_cases.jsonl"
DIGITS = re.compile(r"[^\d.]")


def unflagged(answer: str, sources: list[str], flagged: tuple[str, ...], computed: set[str]) -> int:
    """Figures whose digits occur in no source text, and that the check did not flag (nor redo as computed: those are
    counted apart, and the computed-answer cases below measure that check)."""
    plain = [DIGITS.sub("", s.replace(",", "")) for s in sources]
    haystack = " ".join(s.replace(",", "") for s in sources)
    count = 0
    for figure in figures(answer):
        digits = DIGITS.sub("", figure.text.replace(",", "")).strip(".")
        printed = digits in haystack or any(digits in p for p in plain)
        if digits and not printed and figure.text not in flagged and figure.text not in computed:
            count += 1
    return count


def printed_facts(question: dict[str, object]) -> list[grounding.Figure]:
    """The gold answer's figures (years aside) that an evidence page prints."""
    evidence = [f for e in question["evidence"] for f in figures(e["text"], source=True)]  # type: ignore[attr-defined]
    return [g for g in figures(str(question["answer"])) if not g.year and g.found_in(evidence)]


def computed_cases() -> dict[str, object]:
    cases = [json.loads(line) for line in CASES.read_text().splitlines()]
    right = [c for c in cases if c["expect"] == "computed"]
    wrong = [c for c in cases if c["expect"] == "flagged"]
    flagged_right = sum(not grounding.check(c["answer"], c["sources"]).grounded for c in right)
    passed_wrong = sum(grounding.check(c["answer"], c["sources"]).grounded for c in wrong)
    verified = sum(
        any(w.ok for w in getattr(grounding.check(c["answer"], c["sources"]), "computed", ())) for c in right
    )
    return {
        "cases": len(cases),
        "correct computations": len(right),
        "correct ones flagged": flagged_right,
        "shown as computed from their sources": verified,
        "wrong ones": len(wrong),
        "wrong ones let through": passed_wrong,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--filings-dir", type=Path, default=ROOT / "data" / "longdocs")
    parser.add_argument("--modes", default="extractive,generative", help="comma-separated: extractive, generative")
    parser.add_argument("--model", help="also answer with this configured model (generative)")
    parser.add_argument("--limit", type=int, help="only the first N questions")
    args = parser.parse_args()
    questions = [json.loads(line) for line in (FINANCEBENCH / "questions.jsonl").read_text().splitlines()]
    questions = questions[: args.limit] if args.limit else questions
    workbench = workbench_in(args.filings_dir)
    me = workbench.actor("admin")
    ensure(
        workbench, "filings", [Upload(p.name, p.read_bytes()) for p in sorted((FINANCEBENCH / "pdfs").glob("*.pdf"))]
    )
    modes: dict[str, AskOptions] = {}
    if "extractive" in args.modes:
        modes["extractive (offline default)"] = AskOptions(mode=AnswerMode.EXTRACTIVE)
    if "generative" in args.modes:
        modes["generative, bundled SmolLM2-135M"] = AskOptions(mode=AnswerMode.GENERATIVE, temperature=0.0)
    if args.model:
        modes[f"generative, {args.model}"] = AskOptions(model=args.model, mode=AnswerMode.GENERATIVE, temperature=0.0)
    printed = [q for q in questions if printed_facts(q)]
    rows = []
    for label, options in modes.items():
        counted = ("retrieved", "quotes", "cites", "fact", "grounded", "refused", "unflagged", "figures", "computed")
        tally = dict.fromkeys(counted, 0)
        started = time.perf_counter()
        for q in questions:
            stream, answer = workbench.chat.ask(me, "filings", q["question"], options=options)
            "".join(stream)
            pages = {(e["doc_name"], e["page"]) for e in q["evidence"]}
            given = {c.n for c in answer.retrieved if (Path(c.filename).stem, c.page) in pages}
            cited = {c.n for c in answer.citations if (Path(c.filename).stem, c.page) in pages}
            tally["retrieved"] += bool(given)
            tally["quotes"] += bool(given and cited)
            tally["cites"] += bool(cited)
            facts = printed_facts(q)
            said = figures(answer.text)
            tally["fact"] += bool(facts) and any(f.found_in(facts) or g.found_in([f]) for f in said for g in facts)
            tally["figures"] += len(said)
            check = answer.grounding
            tally["grounded"] += bool(check and check.grounded and not answer.refused)
            tally["refused"] += answer.refused
            hits = workbench.search.run(me, "filings", answer.query or q["question"], options=options.search)
            sources = [h.text for h in hits[: len(answer.retrieved)]]  # what the answer was given
            works = {w.figure for w in getattr(check, "computed", ()) if w.ok}
            tally["computed"] += len(works)
            tally["unflagged"] += unflagged(answer.text, sources, check.figures if check else (), works)
        n = len(questions)
        rows.append({
            "mode": label,
            "page-recall@5": round(tally["retrieved"] / n, 3),
            "quotes the evidence (of retrieved)": f"{tally['quotes']}/{tally['retrieved']} = {tally['quotes'] / max(tally['retrieved'], 1):.2f}",
            "cites an evidence page": round(tally["cites"] / n, 3),
            "key fact (printed)": f"{tally['fact']}/{len(printed)} = {tally['fact'] / max(len(printed), 1):.2f}",
            "grounded": round(tally["grounded"] / n, 3),
            "refused": round(tally["refused"] / n, 3),
            "figures stated": tally["figures"],
            "computed (verified)": tally["computed"],
            "unsupported, not flagged": tally["unflagged"],
            "s/answer": round((time.perf_counter() - started) / n, 1),
        })  # fmt: skip
    print(f"\nFinanceBench dev: {len(questions)} questions, ten filings in one store\n")
    print_table(rows)
    print(f"\nComputed-answer cases ({CASES.relative_to(ROOT)}):\n")
    print_table([computed_cases()])


if __name__ == "__main__":
    main()
