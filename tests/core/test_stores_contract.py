"""The contract every vector-store backend passes; a new backend joins by being registered in BACKENDS."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from core.config import Settings
from core.errors import BackendUnavailable, InvalidInput, NotFound
from core.records import Chunk
from core.stores import BACKENDS, VectorStore, Where, open_backend

DIM = 8


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, settings: Settings) -> Iterator[VectorStore]:
    store = open_backend(request.param, settings)
    store.create("contract", dimension=DIM)
    yield store
    store.drop("contract")


def unit(*values: float) -> np.ndarray:
    vector = np.zeros(DIM, dtype=np.float32)
    vector[: len(values)] = values
    return vector / np.linalg.norm(vector)


def chunks_of(document_id: str, count: int, *, page: int | None = 1) -> list[Chunk]:
    return [
        Chunk(
            document_id=document_id,
            filename=f"{document_id}.pdf",
            text=f"{document_id} chunk {i} – ünïcödé",
            chunk_index=i,
            start=i * 100,
            end=i * 100 + 42,
            page=page if page is None else page + i,
            heading="Section A" if i % 2 else None,
            metadata={"team": "finance"} if i % 2 else {},
        )
        for i in range(count)
    ]


def test_search_on_an_empty_collection_returns_nothing(backend: VectorStore) -> None:
    assert backend.search("contract", unit(1), top_k=5) == []
    assert backend.count("contract") == 0


def test_written_chunks_are_searchable_at_once_best_first(backend: VectorStore) -> None:
    chunks = chunks_of("doc", 3)
    vectors = np.stack([unit(1, 0), unit(1, 1), unit(0, 1)])
    backend.add("contract", chunks, vectors)
    hits = backend.search("contract", unit(1, 0.1), top_k=3)  # no flush, no wait: a stale read fails here
    assert [h.chunk_index for h in hits] == [0, 1, 2]
    assert hits[0].score == pytest.approx(float(unit(1, 0.1) @ unit(1, 0)), abs=1e-4)
    assert hits[0].score > hits[1].score > hits[2].score


def test_every_field_round_trips(backend: VectorStore) -> None:
    chunks = chunks_of("doc", 2) + chunks_of("flat", 1, page=None)
    backend.add("contract", chunks, np.stack([unit(1), unit(0, 1), unit(0, 0, 1)]))
    hit = backend.search("contract", unit(0, 1), top_k=1)[0]
    assert (hit.text, hit.document_id, hit.filename, hit.chunk_index, hit.start, hit.end, hit.page, hit.heading) == (
        "doc chunk 1 – ünïcödé",
        "doc",
        "doc.pdf",
        1,
        100,
        142,
        2,
        "Section A",
    )
    assert backend.search("contract", unit(0, 0, 1), top_k=1)[0].page is None


def test_top_k_limits_the_hits(backend: VectorStore) -> None:
    backend.add("contract", chunks_of("doc", 10), np.stack([unit(1, i) for i in range(10)]))
    assert len(backend.search("contract", unit(1), top_k=4)) == 4
    assert len(backend.search("contract", unit(1), top_k=50)) == 10


def test_delete_documents_removes_all_their_chunks_only(backend: VectorStore) -> None:
    backend.add("contract", chunks_of("a", 3) + chunks_of("b", 2), np.stack([unit(1, i) for i in range(5)]))
    backend.delete_documents("contract", ["a"])
    assert backend.count("contract") == 2
    assert backend.count("contract", document_id="a") == 0
    assert {h.document_id for h in backend.search("contract", unit(1), top_k=10)} == {"b"}


def test_vectors_of_the_wrong_size_are_refused(backend: VectorStore) -> None:
    with pytest.raises(InvalidInput):
        backend.add("contract", chunks_of("doc", 1), np.ones((1, DIM + 1), dtype=np.float32))
    with pytest.raises(InvalidInput):
        backend.add("contract", chunks_of("doc", 2), np.ones((1, DIM), dtype=np.float32))


def test_create_and_drop_are_idempotent(backend: VectorStore) -> None:
    backend.create("contract", dimension=DIM)
    with pytest.raises(InvalidInput):
        backend.create("contract", dimension=DIM * 2)
    backend.drop("other")
    backend.drop("contract")
    backend.drop("contract")
    with pytest.raises(NotFound):
        backend.search("contract", unit(1), top_k=1)
    backend.create("contract", dimension=DIM)
    assert backend.count("contract") == 0


def test_collections_are_isolated(backend: VectorStore) -> None:
    backend.create("second", dimension=DIM)
    backend.add("second", chunks_of("x", 1), np.stack([unit(1)]))
    assert backend.count("contract") == 0
    assert backend.count("second") == 1
    backend.drop("second")


def test_unknown_backend_says_which_exist(settings: Settings) -> None:
    with pytest.raises(BackendUnavailable, match="Choose one of: lancedb, milvus"):
        open_backend("elastic", settings)


def texts(*sentences: str) -> list[Chunk]:
    return [
        Chunk(document_id=f"d{i}", filename=f"d{i}.txt", text=t, chunk_index=0, start=0, end=len(t))
        for i, t in enumerate(sentences)
    ]


def test_fulltext_ranks_by_bm25_right_after_writing(backend: VectorStore) -> None:
    chunks = texts("The coolant pump failed twice.", "Pump pump pump: the pump manual.", "Cats sleep all day.")
    backend.add("contract", chunks, np.stack([unit(1), unit(0, 1), unit(0, 0, 1)]))
    hits = backend.fulltext("contract", "pump", top_k=5)
    assert [h.document_id for h in hits] == ["d1", "d0"]
    assert hits[0].score > hits[1].score > 0
    assert backend.fulltext("contract", "zebra", top_k=5) == []
    assert backend.fulltext("contract", "   ", top_k=5) == []


def test_where_limits_both_searches_to_some_documents(backend: VectorStore) -> None:
    chunks = texts("pump one", "pump two", "pump three")
    backend.add("contract", chunks, np.stack([unit(1), unit(1, 0.1), unit(1, 0.2)]))
    only = Where(frozenset({"d2"}))
    assert [h.document_id for h in backend.search("contract", unit(1), top_k=5, where=only)] == ["d2"]
    assert [h.document_id for h in backend.fulltext("contract", "pump", top_k=5, where=only)] == ["d2"]
    assert backend.search("contract", unit(1), top_k=5, where=Where(frozenset())) == []


def test_hidden_chunks_are_left_out_of_both_searches_with_or_without_documents(backend: VectorStore) -> None:
    chunks = [*chunks_of("a", 2), *texts("pump three")]
    backend.add("contract", chunks, np.stack([unit(1), unit(1, 0.1), unit(1, 0.2)]))
    hidden = Where(hidden=frozenset({"a:0", "d0:0"}))
    assert [(h.document_id, h.chunk_index) for h in backend.search("contract", unit(1), top_k=5, where=hidden)] == [
        ("a", 1)
    ]
    both = Where(frozenset({"a"}), hidden=frozenset({"a:1"}))
    assert [(h.document_id, h.chunk_index) for h in backend.search("contract", unit(1), top_k=5, where=both)] == [
        ("a", 0)
    ]
    assert backend.fulltext("contract", "pump", top_k=5, where=hidden) == []
    assert [h.document_id for h in backend.fulltext("contract", "pump", top_k=5)] == ["d0"]


def test_excluded_documents_are_left_out_of_both_searches(backend: VectorStore) -> None:
    chunks = [*chunks_of("a", 2), *texts("pump three")]
    backend.add("contract", chunks, np.stack([unit(1), unit(1, 0.1), unit(1, 0.2)]))
    without_a = Where(excluded=frozenset({"a", "never-there"}))
    assert [h.document_id for h in backend.search("contract", unit(1), top_k=5, where=without_a)] == ["d0"]
    assert [h.document_id for h in backend.fulltext("contract", "pump", top_k=5, where=without_a)] == ["d0"]
    both = Where(excluded=frozenset({"d0"}), hidden=frozenset({"a:0"}))
    assert [(h.document_id, h.chunk_index) for h in backend.search("contract", unit(1), top_k=5, where=both)] == [
        ("a", 1)
    ]


def test_upsert_replaces_a_chunk_in_place_for_both_searches(backend: VectorStore) -> None:
    backend.add("contract", chunks_of("doc", 3), np.stack([unit(1), unit(0, 1), unit(0, 0, 1)]))
    edited = Chunk(
        document_id="doc", filename="doc.pdf", text="The turbine overheated.", chunk_index=1, start=100, end=142, page=2
    )
    backend.upsert("contract", [edited], np.stack([unit(0, 0, 0, 1)]))
    assert backend.count("contract") == 3
    best = backend.search("contract", unit(0, 0, 0, 1), top_k=1)[0]
    assert (best.chunk_index, best.text, best.score) == (1, "The turbine overheated.", pytest.approx(1.0, abs=1e-4))
    assert [h.chunk_index for h in backend.fulltext("contract", "turbine", top_k=5)] == [1]
    assert [c.text for c in backend.document_chunks("contract", "doc")][1] == "The turbine overheated."


def test_stored_vectors_come_back_in_the_asked_order(backend: VectorStore) -> None:
    chunks = chunks_of("doc", 3)
    vectors = np.stack([unit(1), unit(0, 1), unit(0, 0, 1)])
    backend.add("contract", chunks, vectors)
    hits = backend.search("contract", unit(0, 0, 1), top_k=3)
    assert np.allclose(backend.vectors("contract", hits), vectors[[h.chunk_index for h in hits]], atol=1e-6)


def test_vectors_of_chunks_deleted_since_the_search_are_zero_not_an_error(backend: VectorStore) -> None:
    backend.add("contract", chunks_of("kept", 1) + chunks_of("gone", 1), np.stack([unit(1), unit(0, 1)]))
    hits = backend.search("contract", unit(1, 1), top_k=2)
    backend.delete_documents("contract", ["gone"])  # another user deleted it between search and MMR
    vectors = backend.vectors("contract", hits)
    by_doc = {h.document_id: row for h, row in zip(hits, vectors, strict=True)}
    assert np.allclose(by_doc["kept"], unit(1), atol=1e-6) and not by_doc["gone"].any()


def test_scan_returns_every_chunk_with_its_vector(backend: VectorStore) -> None:
    chunks = chunks_of("doc", 5)
    vectors = np.stack([unit(1, i) for i in range(5)])
    backend.add("contract", chunks, vectors)
    backend.maintain("contract")
    seen = {}
    for batch, batch_vectors in backend.scan("contract", batch=2):
        for chunk, vector in zip(batch, batch_vectors, strict=True):
            seen[chunk.chunk_index] = (chunk, vector)
    assert sorted(seen) == [0, 1, 2, 3, 4]
    chunk, vector = seen[3]
    assert (chunk.text, chunk.page, chunk.start, chunk.heading, chunk.metadata) == (
        chunks[3].text,
        4,
        300,
        "Section A",
        {"team": "finance"},
    )
    assert seen[2][0].metadata == {}
    assert np.allclose(vector, vectors[3], atol=1e-6)


def test_a_documents_chunks_come_back_in_order(backend: VectorStore) -> None:
    backend.add("contract", chunks_of("doc", 3)[::-1] + chunks_of("other", 2), np.stack([unit(1)] * 5))
    chunks = backend.document_chunks("contract", "doc")
    assert [c.chunk_index for c in chunks] == [0, 1, 2] and {c.document_id for c in chunks} == {"doc"}
    assert chunks[1].text == "doc chunk 1 – ünïcödé" and chunks[1].page == 2
    assert backend.document_chunks("contract", "missing") == []
    size = backend.size_bytes("contract")
    assert size is None or size > 0


def test_a_windows_header_is_searched_with_it_but_read_apart(backend: VectorStore) -> None:
    plain, headed = chunks_of("plain", 1)[0], chunks_of("headed", 1)[0]
    headed = Chunk(
        **{**headed.__dict__, "header": "Zanzibar Holdings 2018 annual report · Cash flows", "context": "2018 2017"}
    )
    backend.add("contract", [plain, headed], np.stack([unit(1), unit(0, 1)]))
    found = backend.fulltext("contract", "zanzibar", top_k=5)
    assert [h.document_id for h in found] == ["headed"]  # the header is indexed with the text
    assert found[0].header == headed.header and found[0].text == headed.content  # and read apart from it
    assert "Zanzibar" not in found[0].text
    vector_hit = backend.search("contract", unit(1), top_k=1)[0]
    assert (vector_hit.header, vector_hit.text) == ("", plain.text)  # rows without a header read as before
    assert [c.header for c in backend.document_chunks("contract", "headed")] == [headed.header]
