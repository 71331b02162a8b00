"""A LanceDB table gets its vector index once it outgrows an exact search, keeps it current as rows come, and still
answers exactly when asked; the upkeep runs in the background after an ingest, never in the request."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.ingest import Upload
from core.options import Mode, SearchOptions, Unit
from core.records import Chunk
from core.stores import lance
from core.stores.lance import Config, LanceStore
from core.workbench import Workbench

DIM = 16


def rows(start: int, count: int, rng: np.random.Generator) -> tuple[list[Chunk], np.ndarray]:
    vectors = rng.normal(size=(count, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    chunks = [
        Chunk(document_id=f"d{(start + i) // 10}", filename="f.txt", text=f"row {start + i}", chunk_index=(start + i) % 10,
              start=0, end=5)
        for i in range(count)
    ]  # fmt: skip
    return chunks, vectors


def test_a_table_past_its_size_gets_a_vector_index_kept_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lance, "VECTOR_INDEX_ROWS", 1500)
    rng = np.random.default_rng(7)
    store = LanceStore(Config(str(tmp_path / "lance")))
    store.create("t", dimension=DIM)
    chunks, vectors = rows(0, 1000, rng)
    store.add("t", chunks, vectors)
    store.maintain("t")
    assert store.indexing("t").vector_index is None and not store.indexing("t").due  # small: searched exactly
    more, more_vectors = rows(1000, 1000, rng)
    store.add("t", more, more_vectors)
    assert store.indexing("t").due  # outgrew the exact search
    store.maintain("t")
    indexing = store.indexing("t")
    assert indexing.vector_index == "IvfPq" and indexing.unindexed == 0 and indexing.rows == 2000 and not indexing.due
    everything = np.concatenate([vectors, more_vectors])
    late, late_vectors = rows(2000, 20, rng)
    store.add("t", late, late_vectors)
    assert store.indexing("t").unindexed == 20 and store.indexing("t").due
    query = late_vectors[3]  # a row written after the index: found all the same
    assert store.search("t", query, top_k=1)[0].text == "row 2003"
    everything = np.concatenate([everything, late_vectors])
    probe = rng.normal(size=DIM).astype(np.float32)
    probe /= np.linalg.norm(probe)
    expected = [f"row {i}" for i in np.argsort(-(everything @ probe))[:10]]
    assert [h.text for h in store.search("t", probe, top_k=10, exact=True)] == expected
    store.maintain("t")
    assert store.indexing("t").unindexed == 0
    found = [store.search("t", everything[i], top_k=1)[0].text for i in range(0, 2000, 100)]
    assert sum(f == f"row {i}" for f, i in zip(found, range(0, 2000, 100), strict=True)) >= 18  # through the index
    assert [h.chunk_index for h in store.search("t", query, top_k=1)] == [3]
    assert [c.text for c in store.document_chunks("t", "d200")][:2] == ["row 2000", "row 2001"]  # by its index


def test_an_ingest_leaves_the_index_upkeep_to_the_background(workbench: Workbench) -> None:
    me = workbench.actor("admin")
    workbench.stores.create(me, "kb")
    workbench.start_jobs()
    try:
        assert workbench.services.maintenance.running
        workbench.documents.ingest(me, "kb", [Upload("a.txt", b"Penguins live in the Antarctic.")])
        store = workbench.catalog.get_store("kb")
        wait_until(lambda: store.id in workbench.services.maintenance.last)
        assert workbench.services.maintenance.idle()
        exact = SearchOptions(mode=Mode.VECTOR, unit=Unit.CHUNK, exact=True)
        assert [h.filename for h in workbench.search.run(me, "kb", "penguins", options=exact)] == ["a.txt"]
        assert SearchOptions.parse("exact=on").exact and SearchOptions.parse("exact=off").exact is False
        assert "exact" in SearchOptions(exact=True).describe()
    finally:
        workbench.stop_jobs()
    assert not workbench.services.maintenance.running


def wait_until(condition, timeout_s: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    import time

    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the condition was not met in time"
        time.sleep(0.05)


def test_an_index_outgrown_by_its_table_is_built_again_with_more_partitions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lance, "VECTOR_INDEX_ROWS", 1000)
    monkeypatch.setattr(lance, "ROWS_PER_PARTITION", 50)  # 1,000 rows: 20 partitions, outgrown at 4,000
    rng = np.random.default_rng(3)
    store = LanceStore(Config(str(tmp_path / "lance")))
    store.create("t", dimension=DIM)
    store.add("t", *rows(0, 1000, rng))
    store.maintain("t")
    vector_indexes = lambda: [i.name for i in store._table("t").list_indices() if i.columns == ["vector"]]  # noqa: E731
    assert vector_indexes() == ["vector_idx_20"] and store._nprobes("t") == lance.MIN_NPROBES
    store.add("t", *rows(1000, 3000, rng))
    assert store.indexing("t").due
    store.maintain("t")
    assert vector_indexes() == ["vector_idx_80"] and store.indexing("t").unindexed == 0
    assert store._nprobes("t") == 32  # 40 % of 80 partitions
