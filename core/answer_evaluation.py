"""Answers evaluated on an analyst's own questions: each question of a set (core.evaluation) is asked through chat in
each answer setting, and the table says per setting how often the answer holds the key fact (a figure of the
expected answer, or most of its words when it states none), cites an evidence page (or the document, when no page is
given), is grounded, computes a figure whose working the check verified, and is refused."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from core import grounding
from core.errors import InvalidInput, WorkbenchError
from core.evaluation import Progress, Question
from core.options import AskOptions
from core.records import Citation

KEY_WORD_SHARE = 0.6  # an expected answer without figures is held when the answer has this share of its words


class Answered(Protocol):
    """What evaluation reads of an answer (core.rag.Answer)."""

    text: str
    citations: list[Citation]
    refused: bool
    grounding: grounding.Grounding | None


@dataclass(frozen=True)
class AnswerResult:
    question: Question
    answer: str
    key_fact: bool | None  # None: the question has no expected answer
    cites_evidence: bool
    grounded: bool
    computed: bool  # the answer computes a figure and the check verified its working
    refused: bool


@dataclass(frozen=True)
class AnswerSetting:
    name: str
    options: AskOptions
    questions: tuple[AnswerResult, ...]
    seconds: float

    def row(self) -> dict[str, Any]:
        rows = self.questions
        expected = [q for q in rows if q.key_fact is not None]
        share = lambda values: round(_mean([1.0 if v else 0.0 for v in values]), 3)  # noqa: E731
        return {
            "setting": self.name,
            "key fact": share(q.key_fact for q in expected) if expected else None,
            "evidence cited": share(q.cites_evidence for q in rows),
            "grounded": share(q.grounded for q in rows),
            "computed and verified": share(q.computed for q in rows),
            "refused": share(q.refused for q in rows),
            "s/answer": round(self.seconds / max(len(rows), 1), 2),
        }


@dataclass(frozen=True)
class AnswerEvaluation:
    results: tuple[AnswerSetting, ...]

    def table(self) -> list[dict[str, Any]]:
        return [r.row() for r in self.results]

    def to_json(self) -> dict[str, Any]:
        return {
            "settings": [
                {
                    **r.row(),
                    "options": r.options.settings(),
                    "questions": [
                        {
                            "question": q.question.question,
                            "answer": q.answer,
                            "key_fact": q.key_fact,
                            "cites_evidence": q.cites_evidence,
                            "grounded": q.grounded,
                            "computed": q.computed,
                            "refused": q.refused,
                        }
                        for q in r.questions
                    ],
                }
                for r in self.results
            ]
        }


def holds_key_fact(expected: str, answer: str) -> bool | None:
    """Whether an answer states the expected answer's key fact: one of its figures (years only when it has no other
    figure), or, when it states none, most of its content words. None when nothing is expected."""
    wanted = grounding.figures(expected)
    facts = [f for f in wanted if not f.year] or wanted
    if facts:
        said = grounding.figures(answer)
        return any(f.found_in(facts) or fact.found_in([f]) for f in said for fact in facts)
    words = set(grounding.content_words(expected))
    if not words:
        return None
    return len(words & set(grounding.content_words(answer))) / len(words) >= KEY_WORD_SHARE


def score_answer(question: Question, answer: Answered) -> AnswerResult:
    cited = [c for c in answer.citations if question.answered_by_name(c.filename)]
    evidence = any(c.page in question.pages for c in cited) if question.pages else bool(cited)
    check = answer.grounding
    return AnswerResult(
        question=question,
        answer=answer.text,
        key_fact=(holds_key_fact(question.answer, answer.text) and not answer.refused) if question.answer else None,
        cites_evidence=evidence and not answer.refused,
        grounded=bool(check and check.grounded and not answer.refused),
        computed=bool(check and any(w.ok for w in check.computed)),
        refused=answer.refused,
    )


Ask = Callable[[str, AskOptions], Answered]


def evaluate_answers(
    ask: Ask,
    questions: Sequence[Question],
    settings: Mapping[str, AskOptions],
    *,
    on_progress: Progress | None = None,
) -> AnswerEvaluation:
    """Ask every question with every answer setting and score the answers."""
    if not questions:
        raise InvalidInput("The question set is empty: add at least one question with its document.")
    if not settings:
        raise InvalidInput("Choose at least one answer setting to evaluate.")
    total, done, results = len(questions) * len(settings), 0, []
    for name, options in settings.items():
        started = time.perf_counter()
        rows = []
        for question in questions:
            try:
                rows.append(score_answer(question, ask(question.question, options)))
            except WorkbenchError as exc:  # one failed answer (a model error) is a row, not the end of the run
                failed = AnswerResult(question, f"(failed: {exc})", False if question.answer else None,
                                      False, False, False, False)  # fmt: skip
                rows.append(failed)
            done += 1
            if on_progress is not None:
                on_progress(done, total)
        results.append(AnswerSetting(name, options, tuple(rows), time.perf_counter() - started))
    return AnswerEvaluation(tuple(results))


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
