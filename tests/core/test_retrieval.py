"""Retrieval on small corpora whose right answers are known: a wrong ranking fails these tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.errors import InvalidInput
from core.fusion import saturated
from core.ingest import Upload
from core.options import Filters, Fusion, IngestOptions, Mode, Reranker, RerankKind, SearchOptions
from core.workbench import Workbench
from tests.loopback import JsonEndpoint, serving

DOCS = {
    "pump.txt": "Error code XJ-9000 means the coolant pump has failed and must be replaced.",
    "vacation.txt": "Staff may take twenty-five days of paid leave per year, booked through the HR portal.",
    "travel.txt": "Employees book economy class for flights shorter than six hours.",
    "cafeteria.txt": "The cafeteria serves breakfast from seven until ten in the morning.",
    "security.txt": "Visitors must wear a badge and be escorted inside the laboratory.",
}


@pytest.fixture
def kb(workbench: Workbench) -> Workbench:
    workbench.stores.create(workbench.actor("admin"), "kb")
    workbench.documents.ingest(
        workbench.actor("admin"), "kb", [Upload(name, text.encode()) for name, text in DOCS.items()]
    )
    return workbench


def names(hits) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.filename for h in hits]


def test_fulltext_finds_the_exact_code_and_ignores_paraphrase(kb: Workbench) -> None:
    assert (
        names(kb.search.run(kb.actor("admin"), "kb", "XJ-9000", options=SearchOptions(mode=Mode.FULLTEXT)))[0]
        == "pump.txt"
    )
    assert kb.search.run(kb.actor("admin"), "kb", "holiday allowance", options=SearchOptions(mode=Mode.FULLTEXT)) == []


def test_vector_finds_the_paraphrase(kb: Workbench) -> None:
    assert (
        names(kb.search.run(kb.actor("admin"), "kb", "holiday allowance", options=SearchOptions(mode=Mode.VECTOR)))[0]
        == "vacation.txt"
    )


def test_stemming_matches_other_word_forms(kb: Workbench) -> None:
    assert (
        names(kb.search.run(kb.actor("admin"), "kb", "booking flight", options=SearchOptions(mode=Mode.FULLTEXT)))[0]
        == "travel.txt"
    )


@pytest.mark.parametrize("fusion", [Fusion.RRF, Fusion.WEIGHTED])
def test_hybrid_finds_both_kinds_and_explains_itself(kb: Workbench, fusion: Fusion) -> None:
    options = SearchOptions(mode=Mode.HYBRID, fusion=fusion)
    assert names(kb.search.run(kb.actor("admin"), "kb", "XJ-9000", options=options))[0] == "pump.txt"
    top = kb.search.run(kb.actor("admin"), "kb", "holiday allowance", options=options)[0]
    assert top.filename == "vacation.txt"
    assert top.breakdown is not None and top.breakdown.vector_rank == 1 and top.breakdown.keyword is None
    both = kb.search.run(kb.actor("admin"), "kb", "coolant pump failure", options=options)[0]
    assert both.breakdown is not None and (both.breakdown.vector_rank, both.breakdown.keyword_rank) == (1, 1)
    assert both.breakdown.fused == both.score
    if fusion is Fusion.RRF:  # first in both lists
        assert both.score == pytest.approx(1.0)
    else:  # calibrated: the cosine and the saturated BM25 score themselves, not their rank in this query
        assert both.breakdown.vector is not None and both.breakdown.keyword is not None
        assert both.score == pytest.approx(0.6 * both.breakdown.vector + 0.4 * saturated(both.breakdown.keyword))


def test_weighted_fusion_at_the_extremes_is_each_single_list(kb: Workbench) -> None:
    query = "what happens when the pump fails in the laboratory"
    vector = names(kb.search.run(kb.actor("admin"), "kb", query, options=SearchOptions(mode=Mode.VECTOR, top_k=5)))
    keyword = names(kb.search.run(kb.actor("admin"), "kb", query, options=SearchOptions(mode=Mode.FULLTEXT, top_k=5)))
    assert (
        names(
            kb.search.run(
                kb.actor("admin"), "kb", query, options=SearchOptions(fusion=Fusion.WEIGHTED, weight=1.0, top_k=5)
            )
        )[: len(keyword)][0]
        == vector[0]
    )
    assert (
        names(
            kb.search.run(
                kb.actor("admin"),
                "kb",
                query,
                options=SearchOptions(fusion=Fusion.WEIGHTED, weight=0.0, top_k=len(keyword)),
            )
        )[: len(keyword)]
        == keyword
    )


def test_threshold_drops_weak_hits(kb: Workbench) -> None:
    everything = kb.search.run(
        kb.actor("admin"), "kb", "breakfast times", options=SearchOptions(mode=Mode.VECTOR, top_k=5)
    )
    assert len(everything) == 5
    kept = kb.search.run(
        kb.actor("admin"), "kb", "breakfast times", options=SearchOptions(mode=Mode.VECTOR, top_k=5, threshold=0.3)
    )
    assert names(kept) == ["cafeteria.txt"] and kept[0].score >= 0.3


def test_filters_by_document_type_metadata_and_date(workbench: Workbench) -> None:
    workbench.stores.create(workbench.actor("admin"), "kb")
    workbench.documents.ingest(
        workbench.actor("admin"),
        "kb",
        [Upload("a.txt", b"Pumps fail when the coolant runs dry."), Upload("b.md", b"# Pumps\nA pump moves coolant.")],
    )
    workbench.documents.ingest(
        workbench.actor("admin"),
        "kb",
        [Upload("c.txt", b"Coolant pumps need yearly service.")],
        options=IngestOptions(metadata={"team": "maintenance"}),
    )
    query = "coolant pump"
    every = {"a.txt", "b.md", "c.txt"}
    assert set(names(workbench.search.run(workbench.actor("admin"), "kb", query))) == every
    assert names(
        workbench.search.run(
            workbench.actor("admin"), "kb", query, options=SearchOptions(filters=Filters.parse(["type=md"]))
        )
    ) == ["b.md"]
    assert names(
        workbench.search.run(
            workbench.actor("admin"), "kb", query, options=SearchOptions(filters=Filters.parse(["document=a.txt"]))
        )
    ) == ["a.txt"]
    assert names(
        workbench.search.run(
            workbench.actor("admin"), "kb", query, options=SearchOptions(filters=Filters.parse(["team=maintenance"]))
        )
    ) == ["c.txt"]
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert (
        workbench.search.run(
            workbench.actor("admin"), "kb", query, options=SearchOptions(filters=Filters.parse([f"after={tomorrow}"]))
        )
        == []
    )
    assert (
        set(
            names(
                workbench.search.run(
                    workbench.actor("admin"),
                    "kb",
                    query,
                    options=SearchOptions(filters=Filters.parse([f"before={tomorrow}"])),
                )
            )
        )
        == every
    )
    with pytest.raises(InvalidInput, match="written key=value"):
        Filters.parse(["nonsense"])
    with pytest.raises(InvalidInput, match="needs a date like 2026-01-31"):
        Filters.parse(["after=yesterday"])


def test_many_stores_are_fused_and_say_where_each_hit_is_from(kb: Workbench) -> None:
    kb.stores.create(kb.actor("admin"), "other")
    kb.documents.ingest(
        kb.actor("admin"),
        "other",
        [Upload("pump-manual.txt", b"To replace the coolant pump, drain the circuit first.")],
    )
    hits = kb.search.run(kb.actor("admin"), "kb,other", "coolant pump", options=SearchOptions(top_k=4))
    assert {h.store for h in hits} == {"kb", "other"}
    assert {h.filename for h in hits[:2]} == {"pump.txt", "pump-manual.txt"}


@pytest.mark.parametrize("fusion", [Fusion.RRF, Fusion.WEIGHTED])
def test_the_relevant_store_wins_and_a_threshold_means_the_same_in_each(workbench: Workbench, fusion: Fusion) -> None:
    """A large unrelated store and a small one holding the answer: the best hit of the unrelated store no
    longer ties with the answer (per-store ranks made both 1.0), and a threshold keeps only what is relevant."""
    from tests.conftest import filing_pages, make_pdf

    workbench.stores.create(workbench.actor("admin"), "a")
    workbench.documents.ingest(workbench.actor("admin"), "a", [Upload("annual-report.pdf", make_pdf(filing_pages(30)))])
    workbench.stores.create(workbench.actor("admin"), "b")
    archive = (
        b"The sound archive keeps wax cylinders recorded between 1890 and 1920.\n\nThe reading room opens at nine."
    )
    workbench.documents.ingest(workbench.actor("admin"), "b", [Upload("archive.txt", archive)])
    options = SearchOptions(top_k=5, fusion=fusion)
    hits = workbench.search.run(workbench.actor("admin"), "a,b", "wax cylinders archive", options=options)
    assert hits[0].store == "b" and hits[0].filename == "archive.txt"
    best_of_a = next(h for h in hits if h.store == "a")
    assert best_of_a.score < 0.75 * hits[0].score  # not level with the answer
    alone = workbench.search.run(workbench.actor("admin"), "b", "wax cylinders archive", options=options)[0]
    together = workbench.search.run(workbench.actor("admin"), "b,a", "wax cylinders archive", options=options)[0]
    assert together.score == pytest.approx(alone.score, abs=0.05)  # the answer scores the same with or without a
    kept = workbench.search.run(
        workbench.actor("admin"),
        "a,b",
        "wax cylinders archive",
        options=replace(options, threshold=0.75 * hits[0].score),
    )
    assert {h.store for h in kept} == {"b"}


def test_stores_with_different_models_are_each_queried_with_their_own(
    kb: Workbench, fake_embedding_provider: str
) -> None:
    kb.stores.create(kb.actor("admin"), "remote", embedding=fake_embedding_provider)
    kb.documents.ingest(kb.actor("admin"), "remote", [Upload("remote.txt", b"coolant pump coolant pump")])
    hits = kb.search.run(kb.actor("admin"), ["kb", "remote"], "coolant pump", options=SearchOptions(top_k=10))
    assert "remote.txt" in names(hits) and "pump.txt" in names(hits)


def test_mmr_prefers_a_different_second_answer(workbench: Workbench) -> None:
    workbench.stores.create(workbench.actor("admin"), "kb")
    same = "The coolant pump failed because the coolant ran dry."
    workbench.documents.ingest(
        workbench.actor("admin"),
        "kb",
        [
            Upload("a.txt", same.encode()),
            Upload("b.txt", (same + " ").encode()),
            Upload("c.txt", b"A coolant leak damaged the pump seals."),
        ],
    )
    plain = names(
        workbench.search.run(
            workbench.actor("admin"),
            "kb",
            "why did the coolant pump fail",
            options=SearchOptions(mode=Mode.VECTOR, top_k=2),
        )
    )
    assert set(plain) == {"a.txt", "b.txt"}
    diverse = workbench.search.run(
        workbench.actor("admin"),
        "kb",
        "why did the coolant pump fail",
        options=SearchOptions(mode=Mode.VECTOR, top_k=2, rerank=Reranker(RerankKind.MMR), mmr_lambda=0.3),
    )
    assert names(diverse)[1] == "c.txt"
    assert diverse[0].breakdown is not None and diverse[0].breakdown.rerank is not None


def test_llm_judge_reorders_and_survives_malformed_output(kb: Workbench, mock_chat) -> None:  # type: ignore[no-untyped-def]
    query = "coolant pump"
    first = kb.search.run(kb.actor("admin"), "kb", query, options=SearchOptions(top_k=3))
    judged_order = [first[2].filename, first[0].filename, first[1].filename]
    judge = SearchOptions(top_k=3, candidates=3, rerank=Reranker(RerankKind.LLM, "openai/gpt-4o-mini"))
    mock_chat("Here you go:\n1: 4\n2: 1.5\n[3] = 9\n")
    judged = kb.search.run(kb.actor("admin"), "kb", query, options=judge)
    assert names(judged) == judged_order
    assert [h.breakdown.rerank for h in judged if h.breakdown] == [9.0, 4.0, 1.5]
    mock_chat("I cannot rate these.")
    garbage = kb.search.run(kb.actor("admin"), "kb", query, options=judge)
    assert names(garbage) == names(first)


def test_judge_reply_parser_is_strict_about_numbers() -> None:
    from core.rerank import parse_judgement

    assert parse_judgement("1: 7\n2: eleven\n3: 12\n4: 3\n1: 2", 4) == [7.0, None, None, 3.0]
    assert parse_judgement("", 2) == [None, None]


class CohereLike(JsonEndpoint):
    """A loopback stand-in for a Cohere-style /v1/rerank endpoint: scores by shared words with the query."""

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        words = set(body["query"].lower().split())
        results = [
            {"index": i, "relevance_score": len(words & set(d.lower().split())) / 10}
            for i, d in enumerate(body["documents"])
        ]
        return {"id": "r1", "results": sorted(results, key=lambda r: -r["relevance_score"]), "meta": {}}


@pytest.fixture
def rerank_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with serving(CohereLike) as url:
        monkeypatch.setenv("COHERE_API_KEY", "test-key")
        monkeypatch.setenv("COHERE_API_BASE", url)
        yield url


def test_litellm_rerank_through_a_provider_endpoint(kb: Workbench, rerank_server: str) -> None:
    options = SearchOptions(
        top_k=2, candidates=5, mode=Mode.VECTOR, rerank=Reranker.parse("litellm:cohere/rerank-english-v3.0")
    )
    hits = kb.search.run(kb.actor("admin"), "kb", "visitors badge laboratory escorted", options=options)
    assert names(hits)[0] == "security.txt"
    assert hits[0].breakdown is not None and hits[0].breakdown.rerank == pytest.approx(0.3)
    assert [e.kind for e in kb.catalog.usage()].count("rerank") == 1


def test_cross_encoder_from_a_local_directory(kb: Workbench, tmp_path: Path) -> None:
    from sentence_transformers import CrossEncoder

    from core.embedding import LOCAL_MODELS, MINILM

    model_dir = tmp_path / "tiny-cross-encoder"
    CrossEncoder(LOCAL_MODELS[MINILM].locate(), num_labels=1, device="cpu").save(str(model_dir))
    hits = kb.search.run(
        kb.actor("admin"),
        "kb",
        "coolant pump",
        options=SearchOptions(top_k=5, rerank=Reranker.parse(f"cross-encoder:{model_dir}")),
    )
    scores = [h.breakdown.rerank for h in hits if h.breakdown]
    expected = CrossEncoder(str(model_dir), device="cpu").predict([("coolant pump", h.text) for h in hits])
    assert len(scores) == 5 and np.allclose(scores, expected, atol=1e-5)  # the cross-encoder's own scores ...
    assert scores == sorted(scores, reverse=True)  # ... and the order they give
    with pytest.raises(InvalidInput, match="no cross-encoder model directory"):
        kb.search.run(
            kb.actor("admin"),
            "kb",
            "x",
            options=SearchOptions(rerank=Reranker.parse(f"cross-encoder:{tmp_path / 'missing'}")),
        )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("magic", "Unknown reranker 'magic'"),
        ("litellm", "The litellm reranker needs a model"),
        ("cross-encoder:", "The cross-encoder reranker needs a path"),
    ],
)
def test_bad_reranker_specs_are_explained(spec: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Reranker.parse(spec)


def test_no_match_is_an_empty_list(kb: Workbench) -> None:
    assert kb.search.run(kb.actor("admin"), "kb", "zzzqqq", options=SearchOptions(mode=Mode.FULLTEXT)) == []
    assert (
        kb.search.run(kb.actor("admin"), "kb", "zzzqqq", options=SearchOptions(mode=Mode.VECTOR, threshold=0.99)) == []
    )


def test_date_filters_mean_local_time_whatever_the_zone(workbench: Workbench, monkeypatch: pytest.MonkeyPatch) -> None:
    """Upload times are kept in UTC; a date typed by a user far from UTC must still compare right."""
    import time as clock
    from datetime import datetime, timedelta

    monkeypatch.setenv("TZ", "Pacific/Auckland")  # UTC+12 or +13: a naive comparison is off by half a day
    clock.tzset()
    try:
        workbench.stores.create(workbench.actor("admin"), "kb")
        workbench.documents.ingest(workbench.actor("admin"), "kb", [Upload("a.txt", b"Pump maintenance schedule.")])
        earlier = (datetime.now() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
        after = SearchOptions(filters=Filters.parse([f"after={earlier}"]))
        before = SearchOptions(filters=Filters.parse([f"before={earlier}"]))
        assert [h.filename for h in workbench.search.run(workbench.actor("admin"), "kb", "pump", options=after)] == [
            "a.txt"
        ]
        assert workbench.search.run(workbench.actor("admin"), "kb", "pump", options=before) == []
    finally:
        monkeypatch.delenv("TZ")
        clock.tzset()
