"""Side-by-side comparison of two result lists."""

from __future__ import annotations

from core.compare import placed, vanished
from core.records import Hit


def _hit(n: int, store: str = "kb") -> Hit:
    return Hit(
        text=f"chunk {n}", score=1.0, document_id="d", filename="f.pdf", chunk_index=n, start=0, end=1, store=store
    )


def test_moves_appearances_and_vanishings_are_named() -> None:
    before = [_hit(1), _hit(2), _hit(3), _hit(4)]
    after = [_hit(3), _hit(1), _hit(9), _hit(2, store="other")]
    assert [p.change for p in placed(after, before)] == [
        "up 2",
        "down 1",
        "new",
        "new",
    ]  # another store's chunk 2 is new
    assert [h.chunk_index for h in vanished(after, before)] == [2, 4]
    assert [p.change for p in placed(before, before)] == ["same"] * 4
