"""Two result lists side by side: which hits moved up or down, appeared or vanished."""

from __future__ import annotations

from dataclasses import dataclass

from core.records import Hit


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
