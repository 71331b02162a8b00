"""Retrieval evaluation on an analyst's own questions: recall@k, MRR@k and nDCG@k per search setting.

A question set is a list of questions, each with the document that answers it and, optionally, the pages
(1-based, as a PDF viewer numbers them) or a passage of text where the answer stands. A hit is relevant when
it comes from that document and, if pages are given, from one of them, and, if a text is given, holds most
of that text's words. Each relevant unit (a page, or the document when no page is given) counts once:
a second chunk of the same page does not raise a score.

Several documents that each answer a question are written `a.pdf|b.pdf`: each found one counts (nDCG's ideal
holds them all), as in BEIR's relevance judgements.

Files: CSV with columns `question`, `document`, optional `pages` ("12" or "12;13"), `text` and `answer` (the
expected answer, or its key facts); or JSON lines with the same keys (FinanceBench's `doc_name`, `evidence` and
`answer` are read too).

Answers are evaluated by core.answer_evaluation, over the same question sets.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from core.errors import InvalidInput
from core.options import SearchOptions
from core.records import Hit

MAX_QUESTIONS = 2000
TEXT_MATCH_SHARE = 0.6  # share of the expected text's words a chunk must hold to count as the passage
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Question:
    question: str
    document: str  # the file name, with or without its extension; several that each answer: "a.pdf|b.pdf"
    pages: tuple[int, ...] = ()
    text: str = ""
    id: str = ""
    answer: str = ""  # the expected answer, or its key facts (for evaluating answers)

    def relevant(self, hit: Hit) -> str | None:
        """The relevant unit this hit belongs to ('document NAME' or 'page N'), or None when it is not relevant."""
        if not self.answered_by(hit):
            return None
        if self.pages and hit.page not in self.pages:
            return None
        if self.text and not holds_text(hit.text, self.text):
            return None
        return f"page {hit.page}" if self.pages else f"document {hit.filename}"

    @property
    def documents(self) -> tuple[str, ...]:
        return tuple(d.strip() for d in self.document.split("|") if d.strip())

    def answered_by(self, hit: Hit) -> bool:
        return self.answered_by_name(hit.filename)

    def answered_by_name(self, filename: str) -> bool:
        return any(same_document(filename, d) for d in self.documents)

    @property
    def units(self) -> int:
        return len(self.pages) if self.pages else len(self.documents)


def same_document(filename: str, expected: str) -> bool:
    name, wanted = filename.strip().lower(), expected.strip().lower()
    return name == wanted or PurePath(name).stem == wanted  # "report.pdf" is "report.pdf" or "report"


def holds_text(chunk: str, expected: str) -> bool:
    wanted = set(WORD.findall(expected.lower()))
    return bool(wanted) and len(wanted & set(WORD.findall(chunk.lower()))) / len(wanted) >= TEXT_MATCH_SHARE


@dataclass(frozen=True)
class QuestionResult:
    question: Question
    first_relevant: int | None  # rank of the first relevant hit within k, 1-based
    document_rank: int | None  # rank of the first hit from the right document within k
    found: tuple[str, ...]  # "file · location" of the top-k hits, best first
    reciprocal_rank: float
    ndcg: float

    @property
    def hit(self) -> bool:
        return self.first_relevant is not None


@dataclass(frozen=True)
class SettingResult:
    name: str
    options: SearchOptions
    k: int
    questions: tuple[QuestionResult, ...]
    seconds: float

    @property
    def recall(self) -> float:
        return _mean([1.0 if q.hit else 0.0 for q in self.questions])

    @property
    def document_recall(self) -> float:
        return _mean([1.0 if q.document_rank is not None else 0.0 for q in self.questions])

    @property
    def mrr(self) -> float:
        return _mean([q.reciprocal_rank for q in self.questions])

    @property
    def ndcg(self) -> float:
        return _mean([q.ndcg for q in self.questions])

    def row(self) -> dict[str, Any]:
        k = self.k
        return {
            "setting": self.name,
            f"recall@{k}": round(self.recall, 3),
            f"MRR@{k}": round(self.mrr, 3),
            f"nDCG@{k}": round(self.ndcg, 3),
            f"doc-recall@{k}": round(self.document_recall, 3),
            "ms/question": round(1000 * self.seconds / max(len(self.questions), 1)),
        }


@dataclass(frozen=True)
class Evaluation:
    results: tuple[SettingResult, ...]
    k: int

    def table(self) -> list[dict[str, Any]]:
        return [r.row() for r in self.results]

    def differences(self) -> list[dict[str, Any]]:
        """Questions that some settings find and others miss (the interesting ones), one row each."""
        rows = []
        for i, question in enumerate(self.results[0].questions if self.results else ()):
            found = {r.name: r.questions[i].first_relevant for r in self.results}
            if len({rank is not None for rank in found.values()}) > 1:
                rows.append({"question": question.question.question, **{n: v or "missed" for n, v in found.items()}})
        return rows

    def to_json(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "settings": [
                {
                    **r.row(),
                    "options": r.options.settings(),
                    "questions": [
                        {
                            "question": q.question.question,
                            "document": q.question.document,
                            "pages": list(q.question.pages),
                            "first_relevant": q.first_relevant,
                            "document_rank": q.document_rank,
                            "found": list(q.found),
                        }
                        for q in r.questions
                    ],
                }
                for r in self.results
            ],
        }


def score(question: Question, hits: Sequence[Hit], k: int) -> QuestionResult:
    seen: set[str] = set()
    gains = 0.0
    first = document = None
    for rank, hit in enumerate(hits[:k], 1):
        if document is None and question.answered_by(hit):
            document = rank
        unit = question.relevant(hit)
        if unit is not None and unit not in seen:
            seen.add(unit)
            gains += 1.0 / math.log2(rank + 1)
            first = first or rank
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(question.units, k) + 1))
    return QuestionResult(
        question=question,
        first_relevant=first,
        document_rank=document,
        found=tuple(f"{h.filename} · {h.location or ''}".strip(" ·") for h in hits[:k]),
        reciprocal_rank=1.0 / first if first else 0.0,
        ndcg=gains / ideal if ideal else 0.0,
    )


Search = Callable[[str, SearchOptions], Sequence[Hit]]
Progress = Callable[[int, int], object]  # (done, total) over every question of every setting


def evaluate(
    search: Search,
    questions: Sequence[Question],
    settings: Mapping[str, SearchOptions],
    *,
    k: int | None = None,
    on_progress: Progress | None = None,
) -> Evaluation:
    """Run every question with every setting; `k` defaults to each setting's top_k (the smallest of them)."""
    if not questions:
        raise InvalidInput("The question set is empty: add at least one question with its document.")
    if not settings:
        raise InvalidInput("Choose at least one search setting to evaluate.")
    k = k or min(o.top_k for o in settings.values())
    total, done, results = len(questions) * len(settings), 0, []
    for name, options in settings.items():
        started = time.perf_counter()
        rows = []
        for question in questions:
            rows.append(score(question, search(question.question, options), k))
            done += 1
            if on_progress is not None:
                on_progress(done, total)
        results.append(SettingResult(name, options, k, tuple(rows), time.perf_counter() - started))
    return Evaluation(tuple(results), k)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


@dataclass
class _Reader:
    rows: list[Question] = field(default_factory=list)

    def add(self, number: int, raw: Mapping[str, Any]) -> None:
        question = str(raw.get("question") or "").strip()
        document = str(raw.get("document") or raw.get("doc_name") or "").strip()
        found = raw.get("evidence")
        evidence: list[Any] = found if isinstance(found, list) else []
        if not document and evidence:
            document = str(evidence[0].get("doc_name") or "")
        if not question or not document:
            raise InvalidInput(f"Question {number} needs both a question and the document that answers it.")
        pages = _pages(raw.get("pages", raw.get("page")), number)
        pages += tuple(int(e["page"]) for e in evidence if isinstance(e, dict) and str(e.get("page", "")).isdigit())
        expected = str(raw.get("answer") or raw.get("key_facts") or "").strip()
        self.rows.append(
            Question(
                question,
                document,
                tuple(sorted(set(pages))),
                str(raw.get("text") or ""),
                str(raw.get("id", "")),
                expected,
            )
        )
        if len(self.rows) > MAX_QUESTIONS:
            raise InvalidInput(f"A question set holds at most {MAX_QUESTIONS} questions.")


def _pages(value: Any, number: int) -> tuple[int, ...]:
    if value in (None, ""):
        return ()
    if isinstance(value, int):
        return (value,)
    if isinstance(value, list):
        return tuple(int(v) for v in value)
    try:
        return tuple(int(p) for p in re.split(r"[;,\s]+", str(value).strip()) if p)
    except ValueError:
        raise InvalidInput(f"Question {number}: pages are numbers like 12 or 12;13, not '{value}'.") from None


def read_questions(data: bytes, filename: str) -> list[Question]:
    """A question set from a CSV or JSON-lines file's bytes (see the module's docstring for the columns)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"{filename} is not UTF-8 text; save it as UTF-8 CSV or JSON lines.") from None
    reader = _Reader()
    if filename.lower().endswith((".jsonl", ".json", ".ndjson")):
        for number, line in enumerate((line for line in text.splitlines() if line.strip()), 1):
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"Line {number} of {filename} is not valid JSON: {exc.msg}.") from None
            if not isinstance(raw, dict):
                raise InvalidInput(f"Line {number} of {filename} must be an object with a question and document.")
            reader.add(number, raw)
    elif filename.lower().endswith((".csv", ".txt")):
        rows = csv.DictReader(io.StringIO(text))
        if not rows.fieldnames or not {"question", "document"} <= {f.strip().lower() for f in rows.fieldnames}:
            raise InvalidInput(f"{filename} needs a header row with at least the columns question and document.")
        for number, raw in enumerate(rows, 1):
            reader.add(number, {k.strip().lower(): v for k, v in raw.items() if k})
    else:
        raise InvalidInput(f"{filename}: a question set is a .csv or .jsonl file.")
    if not reader.rows:
        raise InvalidInput(f"{filename} holds no questions.")
    return reader.rows


def write_questions(questions: Sequence[Question]) -> bytes:
    """The set as JSON lines (what is saved with a store and can be downloaded again)."""
    lines = [
        json.dumps(
            {
                "question": q.question,
                "document": q.document,
                "pages": list(q.pages),
                "text": q.text,
                "id": q.id,
                "answer": q.answer,
            }
        )
        for q in questions
    ]
    return ("\n".join(lines) + "\n").encode()
