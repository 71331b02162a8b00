"""Helpers shared by the benchmark scripts: a throwaway workbench and the shared data sets."""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import core  # noqa: E402,F401  (offline environment first)
from core.config import load_settings  # noqa: E402
from core.workbench import Workbench  # noqa: E402

SHARED_DATA = ROOT.parent / "shared" / "data"
SCIFACT = SHARED_DATA / "scifact"


def scratch_workbench(**overrides: object) -> tuple[Workbench, tempfile.TemporaryDirectory[str]]:
    """A workbench in a temporary data directory (keep the returned handle alive while you use it)."""
    scratch = tempfile.TemporaryDirectory(prefix="wb-bench-")
    settings = load_settings(
        env={}, secrets_file=Path(scratch.name) / "none.toml", data_dir=Path(scratch.name) / "data", **overrides
    )
    return Workbench(settings), scratch


def scifact_corpus(limit: int | None = None) -> Iterator[dict[str, str]]:
    """SciFact abstracts as {_id, title, text}; read from ../shared/data, never copied into the repo."""
    path = SCIFACT / "corpus.jsonl"
    if not path.is_file():
        raise SystemExit(f"SciFact not found at {path}; it lives in the shared data folder beside the repo.")
    with path.open(encoding="utf-8") as lines:
        for count, line in enumerate(lines):
            if limit is not None and count >= limit:
                return
            yield json.loads(line)


def print_table(rows: list[dict[str, object]]) -> None:
    headers = list(rows[0])
    cells = [[_fmt(r[h]) for h in headers] for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    print(" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("-|-".join("-" * w for w in widths))
    for row in cells:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def _fmt(value: object) -> str:
    return f"{value:,.2f}" if isinstance(value, float) else str(value)
