"""Two result lists side by side: which hits moved up or down, appeared or vanished; query terms marked in a text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

from core.records import Hit

STOP_WORDS = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "what",
        "does",
        "did",
        "how",
        "are",
        "was",
        "were",
        "this",
        "that",
        "from",
        "into",
        "about",
        "have",
        "has",
        "per",
        "its",
    ]
)


@dataclass(frozen=True)
class Placed:
    """A hit in one list, with where the same chunk stands in the other list (None: not there)."""

    hit: Hit
    rank: int
    other_rank: int | None

    @property
    def change(self) -> str:
        """'new', 'same', 'up 3' or 'down 2', as seen from this list."""
        if self.other_rank is None:
            return "new"
        if self.other_rank == self.rank:
            return "same"
        moved = self.other_rank - self.rank
        return f"up {moved}" if moved > 0 else f"down {-moved}"


def placed(hits: list[Hit], other: list[Hit]) -> list[Placed]:
    """Each hit of `hits` with its rank in `other` (chunks are the same when store, document and index are)."""
    ranks = {(h.store, *h.key): rank for rank, h in enumerate(other, 1)}
    return [Placed(hit=h, rank=rank, other_rank=ranks.get((h.store, *h.key))) for rank, h in enumerate(hits, 1)]


def vanished(hits: list[Hit], other: list[Hit]) -> list[Hit]:
    """Hits of `other` that `hits` no longer has."""
    kept = {(h.store, *h.key) for h in hits}
    return [h for h in other if (h.store, *h.key) not in kept]


def highlight(text: str, query: str) -> str:
    """The text as HTML with the query's words marked (case-insensitive, whole words; all else escaped)."""
    words = sorted({w for w in re.findall(r"\w{3,}", query.lower()) if w not in STOP_WORDS}, key=len, reverse=True)
    if not words:
        return escape(text)
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\w*", re.IGNORECASE)
    out, last = [], 0
    for match in pattern.finditer(text):
        out += [escape(text[last : match.start()]), f"<mark>{escape(match.group(0))}</mark>"]
        last = match.end()
    out.append(escape(text[last:]))
    return "".join(out)
