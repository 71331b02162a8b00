"""The injection check (`core.injection`) on assembled attempts and ordinary passages: detection rate per kind of
attack and the false-positive rate on ordinary science and finance text, at the default threshold and around it.

    .venv/bin/python bench/injection.py [--pages 400]

Attempts: `tests/injections.py` (each attack alone and hidden inside two ordinary passages). Ordinary passages: every
SciFact abstract, the dev filings' evidence pages, and the dev filings read with pypdf and cut into 1,200-character
passages (the first `--pages` pages of each filing).
"""

from __future__ import annotations

import argparse
import time

from common import print_table

from core import injection
from tests import injections


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=400, help="pages of each dev filing to read (default 400)")
    args = parser.parse_args()
    ordinary = {
        "SciFact abstracts": injections.scifact(),
        "filings' evidence pages": injections.finance_evidence(),
        "filings' passages": injections.filing_passages(args.pages),
    }
    hosts = ordinary["SciFact abstracts"][:200] + ordinary["filings' passages"][:200]
    caught = list(injections.attempts(hosts))
    missed = list(injections.attempts(hosts, uncaught=True))
    injection.check("warm up")  # LiteLLM's phrases load once
    started = time.perf_counter()
    scores = {id(c): injection.check(c.text).score for c in [*caught, *missed]}
    normal = {name: [injection.check(t).score for t in texts] for name, texts in ordinary.items()}
    checked = len(scores) + sum(len(v) for v in normal.values())
    per_text_ms = (time.perf_counter() - started) * 1000 / checked
    threshold = injection.DEFAULT_THRESHOLD
    rows = []
    for kind in [*injections.ATTACKS, *injections.UNCAUGHT]:
        cases = [c for c in [*caught, *missed] if c.kind == kind]
        found = sum(scores[id(c)] >= threshold for c in cases)
        rows.append(_row(f"attack: {kind}", len(cases), found))
    found = sum(scores[id(c)] >= threshold for c in caught)
    rows.append(_row("attacks it is meant to catch", len(caught), found))
    for name, values in normal.items():
        wrong = sum(s >= threshold for s in values)
        rows.append(_row(f"ordinary: {name}", len(values), wrong))
    every = [s for v in normal.values() for s in v]
    wrong = sum(s >= threshold for s in every)
    rows.append(_row("ordinary passages in all", len(every), wrong))
    print(f"Threshold {threshold} (the default); {per_text_ms:.2f} ms per text on average.\n")
    print_table(rows)
    print("\nAround the default threshold:")
    sweep = []
    for t in (0.5, 0.6, 0.7, 0.8, 0.9):
        detected = sum(scores[id(c)] >= t for c in caught) / len(caught)
        false = sum(s >= t for s in every) / len(every)
        sweep.append({"threshold": t, "detection": f"{detected:.1%}", "false positives": f"{false:.2%}"})
    print_table(sweep)
    flagged = [
        (s, t) for name, texts in ordinary.items() for s, t in zip(normal[name], texts, strict=True) if s >= threshold
    ]
    for score, text in flagged[:10]:
        verdict = injection.check(text)
        print(f"\nflagged ordinary passage ({score:.2f}, {verdict.reason}): {verdict.evidence}")


def _row(texts: str, count: int, flagged: int) -> dict[str, object]:
    return {"texts": texts, "count": count, "flagged": flagged, "rate": f"{flagged / count:.2%}"}


if __name__ == "__main__":
    main()
