"""Is anything retrieved relevant enough to answer from? Each hit's relevance is on a scale that means the same in
every query (`ScoreBreakdown.relevance`); chat refuses, without calling a model, when the best is below the minimum
of its search mode (`core.ranking.refusal_minimum`, chosen with bench/calibration.py)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from core.records import Hit, ScoreBreakdown

Embed = Callable[[list[str]], np.ndarray]  # texts -> unit vectors, one row each

# A request about the documents themselves ("summarise the report") shares few words with any one passage, so its
# relevance says nothing about whether the documents can answer it: it is never refused for a low relevance.
ABOUT_THE_DOCUMENTS = re.compile(
    r"\b(?:summari[sz]e|summary|overview|outline|key (?:points|takeaways|findings)|main (?:points|findings)|tl;?dr|"
    r"what (?:is|are) (?:this|these|the) (?:documents?|reports?|files?|filings?) about)\b",
    re.IGNORECASE,
)


def too_weak(question: str, hits: Sequence[Hit], *, minimum: float | None, cosine: float | None = None) -> bool:
    """Whether the best hit's relevance is below the minimum (and, when `cosine` is given, its best cosine below
    that too: a passage close enough in meaning answers); a request about the documents themselves never is."""
    best = best_relevance(hits)
    if minimum is None or best is None or best >= minimum or ABOUT_THE_DOCUMENTS.search(question):
        return False
    if cosine is not None:
        closest = best_cosine(hits)
        return closest is None or closest < cosine
    return True


def with_cosines(query: str, hits: Sequence[Hit], embed: Embed) -> list[Hit]:
    """Hits whose relevance is their cosine with the query (for full-text hits, whose BM25 scale means little across
    queries): the embedding model reads what the words found."""
    if not hits:
        return list(hits)
    vectors = embed([query, *(h.text for h in hits)])
    cosines = vectors[1:] @ vectors[0]
    return [
        replace(h, breakdown=replace(h.breakdown or ScoreBreakdown(), relevance=float(c)))
        for h, c in zip(hits, cosines, strict=True)
    ]


def best_cosine(hits: Sequence[Hit]) -> float | None:
    """The best cosine between the question and a hit, if the search computed any."""
    found = [h.breakdown.vector for h in hits if h.breakdown is not None and h.breakdown.vector is not None]
    return max(found) if found else None


def best_relevance(hits: Sequence[Hit]) -> float | None:
    """The best hit's relevance on the calibrated scale of its mode (comparable across queries), if any."""
    found = [h.breakdown.relevance for h in hits if h.breakdown is not None and h.breakdown.relevance is not None]
    return max(found) if found else None
