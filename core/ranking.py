"""Ranking choices above fusion: one result per page, the fusion weight that fits a store, and the documents a
question names."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from core.records import Document, Hit, ScoreBreakdown

DEFAULT_WEIGHT = 0.6  # the vector share for short documents (SciFact train: 0.726, within 0.004 of the best, 0.5)
LONG_DOCUMENT_WEIGHT = 0.8  # and for long ones (FinanceBench filings, bench/longdocs.py)
LONG_DOCUMENT_WINDOWS = 100  # a document of this many windows (some 25 pages) is long
NAMED_BONUS = 0.1  # added to hits of a document the question names (see named_documents)


def by_page(hits: list[Hit]) -> list[Hit]:
    """One hit per page, in order: the page's best window, counting how many of its windows matched."""
    first: dict[tuple[str | None, str, int], int] = {}
    pages: list[Hit] = []
    for hit in hits:
        if hit.page is None:
            pages.append(hit)
            continue
        key = (hit.store, hit.document_id, hit.page)
        if key in first:
            best = pages[first[key]]
            pages[first[key]] = replace(best, windows=best.windows + 1)
        else:
            first[key] = len(pages)
            pages.append(hit)
    return pages


def fusion_weight(documents: int, windows: int) -> float:
    """The vector share of weighted fusion that fits a store: long documents (filings: hundreds of windows each, full
    of figures and words every page repeats) want less BM25 than short ones (abstracts, notes, emails), where BM25's
    exact terms carry more. Decided by the store's mean windows per document (see LONG_DOCUMENT_WINDOWS)."""
    if documents and windows / documents >= LONG_DOCUMENT_WINDOWS:
        return LONG_DOCUMENT_WEIGHT
    return DEFAULT_WEIGHT


def fusion_weight_note(documents: int, windows: int) -> str:
    """Which vector share is in force for a store, and why, for people."""
    weight = fusion_weight(documents, windows)
    if not documents:
        return f"{weight:g} (no documents yet)"
    size = "long" if weight == LONG_DOCUMENT_WEIGHT else "short"
    return f"{weight:g} ({size} documents, about {windows / documents:,.0f} windows each)"


_NAME_SPLIT = re.compile(r"[^0-9a-z]+")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")


def named_documents(query: str, documents: Sequence[Document]) -> set[str]:
    """The documents a question names: words of their file names (a company, a product, a year) that the question
    writes as a name (capitalised, or a number: '3M', 'Boeing', 'FY2018'), also run together ('AMERICANEXPRESS' is
    'American Express'). Only the best match counts, and only when it singles out some documents: a word every file
    name shares names none, and a topic word in lower case ('pump') is a topic, not a name."""
    names = [w.lower() for w in re.findall(r"[A-Za-z0-9&]+", query) if w[0].isupper() or w[0].isdigit()]
    words = {p for w in names for p in _NAME_SPLIT.split(w) if p}
    squashed = "".join(_NAME_SPLIT.sub("", w) for w in names)
    years = set(_YEAR.findall(query))
    scores: dict[str, int] = {}
    for document in documents:
        stem = document.filename.rsplit(".", 1)[0].lower()
        parts = {p for p in _NAME_SPLIT.split(stem) if p and not p.isdigit()}
        named = sum(1 for p in parts if p in words or (len(p) >= 6 and p in squashed))
        dated = 1 if parts and years & set(_YEAR.findall(stem)) else 0  # '2019.txt' is an id, not a year
        scores[document.id] = named + dated
    best = max(scores.values(), default=0)
    chosen = {d for d, n in scores.items() if n == best}
    return chosen if best > 0 and len(chosen) < len(scores) else set()


def prefer_named(query: str, hits: list[Hit], documents: Sequence[Document]) -> list[Hit]:
    """Hits of the documents the question names rank higher by NAMED_BONUS (recorded in their breakdown)."""
    named = named_documents(query, documents)
    if not named:
        return hits
    raised = [
        replace(h, score=h.score + NAMED_BONUS, breakdown=replace(h.breakdown or ScoreBreakdown(), named=NAMED_BONUS))
        if h.document_id in named
        else h
        for h in hits
    ]
    return sorted(raised, key=lambda h: -h.score)
