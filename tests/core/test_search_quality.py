"""Scores that mean the same in every query, a fusion weight that fits the store, the filing a question names,
and questions searched in the documents' own words."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest

from core.config import Settings, load_settings
from core.errors import InvalidInput
from core.fusion import saturated
from core.ingest import Upload
from core.options import Fusion, Mode, SearchOptions, Unit
from core.ranking import (
    DEFAULT_WEIGHT,
    LONG_DOCUMENT_WEIGHT,
    LONG_DOCUMENT_WINDOWS,
    NAMED_BONUS,
    fusion_weight,
    fusion_weight_note,
    named_documents,
)
from core.records import Document, DocumentStatus
from core.workbench import Workbench
from tests.conftest import make_pdf
from tests.core.test_retrieval import DOCS
from tests.loopback import JsonEndpoint, serving

FILINGS = [
    "3M_2018_10K.pdf",
    "3M_2022_10K.pdf",
    "AMERICANEXPRESS_2022_10K.pdf",
    "BOEING_2022_10K.pdf",
    "pump-manual.txt",
]


def documents(names: list[str]) -> list[Document]:
    return [
        Document(
            id=n,
            store_id="s",
            filename=n,
            content_hash=n,
            size_bytes=1,
            status=DocumentStatus.READY,
            created_at=datetime.now(UTC),
            uploaded_by="admin",
        )
        for n in names
    ]


@pytest.fixture
def kb(workbench: Workbench) -> Workbench:
    workbench.stores.create(workbench.actor("admin"), "kb")
    workbench.documents.ingest(
        workbench.actor("admin"), "kb", [Upload(name, text.encode()) for name, text in DOCS.items()]
    )
    return workbench


def test_an_unrelated_question_scores_well_below_a_matching_one(kb: Workbench) -> None:
    admin = kb.actor("admin")
    matching = kb.search.run(admin, "kb", "coolant pump failure XJ-9000", options=SearchOptions(unit=Unit.CHUNK))[0]
    unrelated = kb.search.run(admin, "kb", "recipe for banana bread", options=SearchOptions(unit=Unit.CHUNK))
    best_unrelated = unrelated[0].score if unrelated else 0.0
    # min-max fusion gave the best hit of any query 0.6-1.0; calibrated, the unrelated best is far below
    assert matching.score > 0.5 and best_unrelated < 0.25 and matching.score - best_unrelated > 0.3
    assert kb.search.run(admin, "kb", "recipe for banana bread", options=SearchOptions(threshold=0.3)) == []
    assert kb.search.run(admin, "kb", "coolant pump failure XJ-9000", options=SearchOptions(threshold=0.3))


def test_a_fused_score_is_the_weighted_cosine_and_saturated_bm25(kb: Workbench) -> None:
    hit = kb.search.run(kb.actor("admin"), "kb", "coolant pump", options=SearchOptions(weight=0.7))[0]
    b = hit.breakdown
    assert b is not None and b.vector is not None and b.keyword is not None
    assert hit.score == pytest.approx(0.7 * b.vector + 0.3 * saturated(b.keyword))
    assert 0 < saturated(b.keyword) < 1 and saturated(0) == 0 and saturated(1e9) == pytest.approx(1, abs=1e-6)


def test_a_hit_only_bm25_found_gets_its_real_cosine(kb: Workbench) -> None:
    admin = kb.actor("admin")
    more = {
        "appendix.txt": b"Reference ZQ-77 is listed in the appendix.",
        "maintenance.txt": b"Coolant pumps are inspected every month for failures.",
        "spares.txt": b"Spare coolant pumps are kept in the store room in case one fails.",
    }
    kb.documents.ingest(admin, "kb", [Upload(name, text) for name, text in more.items()])
    options = SearchOptions(candidates=2, top_k=2, weight=0.3, unit=Unit.CHUNK)  # pools of two: vector misses it
    hits = kb.search.run(admin, "kb", "coolant pump failure ZQ-77", options=options)
    only_bm25 = [h for h in hits if h.breakdown and h.breakdown.vector_rank is None]
    assert [h.filename for h in only_bm25] == ["appendix.txt"]
    b = only_bm25[0].breakdown
    assert b is not None and b.vector is not None and b.vector != 0 and -1 <= b.vector <= 1  # its cosine, not 0
    assert only_bm25[0].score == pytest.approx(0.3 * max(b.vector, 0) + 0.7 * saturated(b.keyword or 0))


def test_the_fusion_weight_fits_the_length_of_the_stores_documents(kb: Workbench) -> None:
    assert fusion_weight(5, 10) == DEFAULT_WEIGHT  # notes and abstracts
    assert fusion_weight(2, 2 * LONG_DOCUMENT_WINDOWS) == LONG_DOCUMENT_WEIGHT  # filings
    assert fusion_weight(0, 0) == DEFAULT_WEIGHT
    assert fusion_weight_note(2, 2 * LONG_DOCUMENT_WINDOWS) == f"{LONG_DOCUMENT_WEIGHT:g} (long documents, about {LONG_DOCUMENT_WINDOWS} windows each)"  # fmt: skip
    hit = kb.search.run(kb.actor("admin"), "kb", "coolant pump", options=SearchOptions())[0]  # weight=None: fitted
    b = hit.breakdown
    assert b is not None and b.vector is not None and b.keyword is not None
    assert hit.score == pytest.approx(DEFAULT_WEIGHT * b.vector + (1 - DEFAULT_WEIGHT) * saturated(b.keyword))


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("What was 3M's FY2018 capital expenditure?", {"3M_2018_10K.pdf"}),
        ("3m capex in 2022", {"3M_2022_10K.pdf"}),
        ("Did American Express grow its card volumes?", {"AMERICANEXPRESS_2022_10K.pdf"}),
        ("Compare Boeing and 3M on FY2022 margins", {"3M_2022_10K.pdf", "BOEING_2022_10K.pdf"}),
        ("how do I replace the coolant pump?", set()),  # a topic word in lower case is not a name
        ("What does the 10K say about risks?", set(FILINGS[:4])),  # the filings, not the manual
        ("What happened in 2019?", set()),
    ],
)
def test_a_question_names_the_documents_it_is_about(question: str, named: set[str]) -> None:
    assert named_documents(question, documents(FILINGS)) == named


def test_an_id_like_file_name_is_no_year_and_a_word_every_file_shares_names_none() -> None:
    assert named_documents("What does the 10K say about risks?", documents(FILINGS[:4])) == set()
    assert named_documents("What happened in 2019?", documents(["2019.txt", "2020.txt"])) == set()


def test_the_filing_a_question_names_comes_first(workbench: Workbench) -> None:
    admin = workbench.actor("admin")
    workbench.stores.create(admin, "filings")
    page = "Net sales by segment were reported for the year. Revenue grew in every region of the company."
    uploads = [Upload(f"ACME_{year}_10K.pdf", make_pdf([f"Fiscal {year}. {page}"])) for year in (2018, 2022)]
    workbench.documents.ingest(admin, "filings", uploads)
    for year in (2018, 2022):
        top = workbench.search.run(admin, "filings", f"ACME revenue by segment in FY{year}", options=SearchOptions())[0]
        assert top.filename == f"ACME_{year}_10K.pdf"
        assert top.breakdown is not None and top.breakdown.named == NAMED_BONUS
        assert "named in the question" in top.breakdown.describe()


def test_search_settings_read_the_new_choices() -> None:
    options = SearchOptions.parse("weight=auto unit=chunk rewrite=on")
    assert (options.weight, options.unit, options.rewrite) == (None, Unit.CHUNK, True)
    assert options.describe() == "hybrid weighted auto by chunk + rewrite"
    assert SearchOptions.from_settings(options.settings()) == options
    assert SearchOptions(weight=0.7).describe() == "hybrid weighted 0.7"
    with pytest.raises(InvalidInput, match="rewrite is on or off"):
        SearchOptions.parse("rewrite=maybe")
    with pytest.raises(InvalidInput, match="Unknown unit 'pages'"):
        SearchOptions(unit="pages")  # type: ignore[arg-type]


class OpenAILike(JsonEndpoint):
    """A loopback stand-in for an OpenAI-style chat endpoint that rewrites 'capex' as a cash-flow line."""

    asked: ClassVar[list[str]] = []

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        question = body["messages"][-1]["content"]
        OpenAILike.asked.append(question)
        reply = question.replace("capex", "purchases of property, plant and equipment")
        return {
            "id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": reply}}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 8, "total_tokens": 28},
        }  # fmt: skip


@pytest.fixture
def chat_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with serving(OpenAILike) as url:
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("OPENAI_API_BASE", f"{url}/v1")
        monkeypatch.setenv("OPENAI_BASE_URL", f"{url}/v1")
        yield url


def test_a_question_is_also_searched_in_the_documents_words(tmp_path: Path, chat_server: str) -> None:
    settings: Settings = load_settings(env={"WORKBENCH_JUDGE_MODEL": "openai/gpt-4o-mini"},
                                       secrets_file=tmp_path / "none.toml", data_dir=tmp_path / "data")  # fmt: skip
    wb = Workbench(settings)
    admin = wb.actor("admin")
    wb.stores.create(admin, "kb")
    texts = {**DOCS, "cashflow.txt": "Purchases of property, plant and equipment were 1,577 million in 2018."}
    wb.documents.ingest(admin, "kb", [Upload(n, t.encode()) for n, t in texts.items()])
    words = SearchOptions(mode=Mode.FULLTEXT, unit=Unit.CHUNK)
    assert wb.search.run(admin, "kb", "cash burn", options=words) == []  # the analyst's word is not the filing's
    found = wb.search.run(admin, "kb", "capex", options=words)  # a measure the glossary knows: found offline
    assert [h.filename for h in found][:1] == ["cashflow.txt"]
    assert found[0].breakdown is not None and "capex → purchases of property" in (found[0].breakdown.expansion or "")
    hits = wb.search.run(admin, "kb", "capex", options=SearchOptions(mode=Mode.FULLTEXT, rewrite=True))
    assert [h.filename for h in hits][:1] == ["cashflow.txt"] and OpenAILike.asked[-1] == "capex"
    assert [e.kind for e in wb.catalog.usage()].count("rewrite") == 1
    hybrid = wb.search.run(admin, "kb", "capex", options=SearchOptions(fusion=Fusion.WEIGHTED, rewrite=True))
    assert hybrid[0].filename == "cashflow.txt"


def test_rewriting_without_a_capable_model_says_what_to_set(kb: Workbench) -> None:
    with pytest.raises(InvalidInput, match="Rewriting questions needs a chat model other than the bundled one"):
        kb.search.run(kb.actor("admin"), "kb", "capex", options=SearchOptions(rewrite=True))
