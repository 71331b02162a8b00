"""Answers quoted from the documents: the sentences and table rows of the retrieved sources that best answer the
question, each with its citation. Nothing is written that a source does not say, so no figure can be invented.

A passage is ranked by the embedding model's cosine between it and the question, plus the share of the question's
words it holds (names and numbers that embeddings of a small model blur). A table row keeps the header line above
it (the years or units of its columns) when the source has one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.records import Hit

Embed = Callable[[list[str]], np.ndarray]  # texts -> unit vectors, one row each

MAX_QUOTES = 3
MIN_CHARS = 25  # shorter passages are headings or fragments, not answers
MAX_CHARS = 400  # longer ones are cut at a sentence inside them
WORD_SHARE = 0.4  # how much the question's words count beside the cosine
KEEP_SHARE = 0.75  # a passage is quoted when it scores at least this share of the best one
INTRO = "From the documents:"
MARKER = re.compile(r"\[(\d{1,3})\]")  # a source's own "[3]" is not one of our citations once quoted
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"“])")
NUMBER = re.compile(r"\(?\$?\d[\d,.]*\)?%?")
ROW_SHARE = 0.25  # a table row: numbers are at least this share of its words (prose mentions a year or two)
UNITS = re.compile(r"\((?:\$|dollars|amounts)?\s*(?:in\s+)?(?:thousands|millions|billions)\b", re.IGNORECASE)
YEAR = re.compile(r"\b(19|20)\d\d\b")
WORD = re.compile(r"[a-z0-9][a-z0-9'&-]{2,}")
STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "what",
        "was",
        "were",
        "are",
        "how",
        "did",
        "does",
        "this",
        "that",
        "from",
        "which",
        "its",
        "their",
        "his",
        "her",
        "has",
        "have",
        "had",
    ]
)


@dataclass(frozen=True)
class Passage:
    n: int  # the source it comes from, 1-based
    text: str
    score: float = 0.0


def passages(hits: Sequence[Hit]) -> list[Passage]:
    """Each source cut into sentences, and table rows (lines of several numbers) with their header line."""
    found = [p for n, hit in enumerate(hits, start=1) for p in _passages_of(n, MARKER.sub(r"(\1)", hit.text))]
    return [Passage(p.n, _cut(p.text)) for p in found if len(p.text) >= MIN_CHARS]


def _passages_of(n: int, text: str) -> list[Passage]:
    found: list[Passage] = []
    units, years, prose = "", "", []  # a PDF breaks its sentences into lines: prose lines are joined again
    for raw in [*text.splitlines(), ""]:
        line = " ".join(raw.split())
        numbers = len(NUMBER.findall(line))
        row = numbers >= 2 and numbers >= ROW_SHARE * len(line.split()) and not line.endswith(".")
        if line and not row and not _is_header(line):
            prose.append(line)
            continue
        found += [Passage(n, s) for s in SENTENCE.split(" ".join(prose)) if len(s) >= MIN_CHARS]
        prose = []
        if UNITS.search(line) and numbers <= 1:
            units = line
        elif _is_header(line):
            years = line
        elif row:
            header = " ".join(h for h in (units, years) if h)
            found.append(Passage(n, f"{header} | {line}" if header else line))
    return found


def answer(question: str, hits: Sequence[Hit], embed: Embed) -> str:
    """The best passages quoted with their citations, the best first; '' when the sources hold no passage."""
    candidates = passages(hits)
    if not candidates:
        return ""
    vectors = embed([question, *(p.text for p in candidates)])
    cosines = vectors[1:] @ vectors[0]
    asked = set(_words(question))
    scored = sorted(
        (
            Passage(p.n, p.text, float(c) + WORD_SHARE * _share(asked, p.text))
            for p, c in zip(candidates, cosines, strict=True)
        ),
        key=lambda p: -p.score,
    )
    best = scored[0].score
    chosen: list[Passage] = []
    for passage in scored:
        if len(chosen) == MAX_QUOTES or (chosen and passage.score < best * KEEP_SHARE):
            break
        if all(passage.text not in c.text and c.text not in passage.text for c in chosen):
            chosen.append(passage)
    if not chosen:
        return ""
    return INTRO + "\n" + "\n".join(f"- “{p.text}” [{p.n}]" for p in chosen)


def _is_header(line: str) -> bool:
    """A table's header line: two or more years and few other numbers, or a line naming its units."""
    years = len(YEAR.findall(line))
    short = len(line.split()) <= years + 4  # "Years ended December 31 2018 2017 2016", not a sentence naming years
    return (years >= 2 and short and len(NUMBER.findall(line)) <= years + 1) or (
        bool(UNITS.search(line)) and len(NUMBER.findall(line)) <= 1
    )


def _cut(text: str) -> str:
    if len(text) <= MAX_CHARS:
        return text
    cut = text[:MAX_CHARS]
    stop = max(cut.rfind(". "), cut.rfind("; "))
    return (cut[: stop + 1] if stop > MIN_CHARS else cut.rsplit(" ", 1)[0]) + " …"  # never inside a word


def _words(text: str) -> list[str]:
    return [w for w in WORD.findall(text.lower()) if w not in STOP]


def _share(asked: set[str], text: str) -> float:
    return len(asked & set(_words(text))) / len(asked) if asked else 0.0
