from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.chunking import ChunkSettings, Strategy
from core.config import Settings
from core.embedding import get_embedder
from core.errors import InvalidInput, WorkbenchError
from core.ingest import Upload
from core.records import Chunk, DocumentStatus, IngestStatus
from core.stores.lance import LanceStore
from core.workbench import Workbench
from tests.conftest import filing_pages, make_docx, make_pdf


def test_pdf_and_docx_are_written_and_the_page_three_sentence_is_found_first(workbench: Workbench) -> None:
    workbench.create_store("kb")
    pdf = make_pdf(filing_pages(5))
    docx = make_docx(lambda d: (d.add_heading("Travel", 1), d.add_paragraph("Hotels up to 180 EUR a night.")))
    results = workbench.ingest("kb", [Upload("filing.pdf", pdf), Upload("travel.docx", docx)])
    assert [(r.filename, r.status, r.pages) for r in results] == [
        ("filing.pdf", IngestStatus.WRITTEN, 5),
        ("travel.docx", IngestStatus.WRITTEN, None),
    ]
    store = workbench.store("kb")
    assert workbench.backend("lancedb").count(store.collection) == sum(r.chunks for r in results)
    hits = workbench.search("kb", "zebras migrate across the Serengeti")
    assert (hits[0].filename, hits[0].page) == ("filing.pdf", 3)
    hits = workbench.search("kb", "hotel price limit per night")
    assert (hits[0].filename, hits[0].page, hits[0].heading) == ("travel.docx", None, "Travel")


def test_same_content_is_skipped_even_under_another_name(workbench: Workbench) -> None:
    workbench.create_store("kb")
    data = b"The only line of this file."
    first = workbench.ingest("kb", [Upload("a.txt", data), Upload("b.txt", data)])
    again = workbench.ingest("kb", [Upload("c.txt", data)])
    assert [r.status for r in first + again] == [IngestStatus.WRITTEN, IngestStatus.DUPLICATE, IngestStatus.DUPLICATE]
    assert "same content as a.txt" in (again[0].error or "")
    assert len(workbench.documents("kb")) == 1


def test_bad_files_fail_alone_and_are_recorded_with_the_reason(workbench: Workbench) -> None:
    workbench.create_store("kb")
    results = workbench.ingest(
        "kb",
        [
            Upload("bad.pdf", b"%PDF-1.4 nonsense"),
            Upload("empty.txt", b""),
            Upload("x.exe", b"MZ"),
            Upload("ok.txt", b"fine text"),
        ],
    )
    assert [r.status for r in results] == [IngestStatus.FAILED] * 3 + [IngestStatus.WRITTEN]
    assert "bad.pdf" in (results[0].error or "") and "empty" in (results[1].error or "")
    statuses = {d.filename: (d.status, d.error) for d in workbench.documents("kb")}
    assert statuses["ok.txt"] == (DocumentStatus.READY, None)
    assert statuses["bad.pdf"][0] is DocumentStatus.FAILED and "damaged" in (statuses["bad.pdf"][1] or "")


def test_oversized_upload_is_refused_before_parsing(tmp_path: Path) -> None:
    from core.config import load_settings

    small = Workbench(
        load_settings(env={}, secrets_file=tmp_path / "none", data_dir=tmp_path / "d", max_upload_mb=1)
    ).as_user("admin")
    small.create_store("kb")
    [result] = small.ingest("kb", [Upload("huge.txt", b"a" * (2 * 2**20))])
    assert result.status is IngestStatus.FAILED
    assert "over the 1 MB upload limit" in (result.error or "")


class FlakyStore(LanceStore):
    """LanceDB that fails the n-th write, as a full disk or a dropped connection would."""

    def __init__(self, settings: Settings, fail_on: int) -> None:
        super().__init__(settings)
        self.writes = 0
        self.fail_on = fail_on

    def add(self, collection: str, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        self.writes += 1
        if self.writes == self.fail_on:
            raise OSError("No space left on device")
        super().add(collection, chunks, vectors)


def test_a_failed_write_leaves_no_half_document(settings: Settings) -> None:
    workbench = Workbench(replace(settings, ingest_batch_chunks=8)).as_user("admin")
    workbench.create_store("kb", chunking=ChunkSettings(size=200, overlap=0))
    flaky = FlakyStore(settings, fail_on=3)
    workbench._backends["lancedb"] = flaky
    long_doc = Upload("long.pdf", make_pdf(filing_pages(12)))  # many batches: the third write fails mid-document
    short_doc = Upload("later.txt", b"A short note written after the failure.")
    long_result, short_result = workbench.ingest("kb", [long_doc, short_doc])
    assert long_result.status is IngestStatus.FAILED
    assert "No space left on device" in (long_result.error or "")
    assert short_result.status is IngestStatus.WRITTEN
    store = workbench.store("kb")
    assert flaky.count(store.collection, document_id=long_result.document_id or "") == 0
    assert flaky.count(store.collection) == short_result.chunks
    docs = {d.filename: d for d in workbench.documents("kb")}
    assert docs["long.pdf"].status is DocumentStatus.FAILED and docs["long.pdf"].chunk_count == 0
    retry = workbench.ingest("kb", [long_doc])  # the same file may be tried again after a failure
    assert retry[0].status is IngestStatus.WRITTEN


def test_document_spread_over_many_batches_is_complete(settings: Settings) -> None:
    workbench = Workbench(replace(settings, ingest_batch_chunks=5)).as_user("admin")
    workbench.create_store("kb", chunking=ChunkSettings(size=150, overlap=20))
    [result] = workbench.ingest("kb", [Upload("long.pdf", make_pdf(filing_pages(6)))])
    assert result.chunks > 15
    store = workbench.store("kb")
    assert workbench.backend("lancedb").count(store.collection) == result.chunks
    assert workbench.list_stores()[0].chunks == result.chunks


def test_chunks_of_unfinished_documents_are_invisible_to_search(workbench: Workbench) -> None:
    workbench.create_store("kb")
    [done] = workbench.ingest("kb", [Upload("done.txt", b"Penguins live in Antarctica and eat fish.")])
    store = workbench.store("kb")
    half = Chunk(
        document_id="in-progress",
        filename="half.txt",
        text="Penguins live in Antarctica.",
        chunk_index=0,
        start=0,
        end=28,
    )
    workbench.backend("lancedb").add(store.collection, [half], get_embedder(store.embedding_model).embed([half.text]))
    hits = workbench.search("kb", "Where do penguins live?")
    assert [h.filename for h in hits] == ["done.txt"]
    assert hits[0].document_id == done.document_id


def test_ingest_records_embedding_usage(workbench: Workbench) -> None:
    workbench.create_store("kb")
    workbench.ingest("kb", [Upload("a.txt", b"Some words to embed.")])
    workbench.search("kb", "words")
    events = workbench.catalog.usage()
    assert [(e.kind, e.user, e.store, e.model) for e in events] == [
        ("embedding", "admin", "kb", "local/all-minilm-l6-v2")
    ] * 2
    assert events[0].prompt_tokens > 5


def test_chunking_settings_are_validated_when_the_store_is_made(workbench: Workbench) -> None:
    with pytest.raises(InvalidInput):
        workbench.create_store("kb", chunking=ChunkSettings(size=100, overlap=100))
    with pytest.raises(WorkbenchError):
        workbench.store("kb")
    store = workbench.create_store("kb", chunking=ChunkSettings("sentence", 300, 0))  # type: ignore[arg-type]
    assert store.chunking == ChunkSettings(Strategy.SENTENCE, 300, 0)


def test_a_new_version_can_replace_the_old_one_or_sit_beside_it(workbench: Workbench) -> None:
    from core.ingest import IngestOptions

    workbench.create_store("kb")
    [old] = workbench.ingest("kb", [Upload("plan.txt", b"The launch is in May.")])
    [both] = workbench.ingest("kb", [Upload("plan.txt", b"The launch moved to June.")])
    assert "both versions are kept" in both.warnings[0]
    assert {h.text for h in workbench.search("kb", "When is the launch?", options=None)} == {
        "The launch is in May.",
        "The launch moved to June.",
    }
    [new] = workbench.ingest(
        "kb",
        [Upload("plan.txt", b"The launch is now in July.")],
        options=IngestOptions(replace=True, parse=workbench.parse_options(user="admin", store="kb")),
    )
    assert new.status is IngestStatus.WRITTEN and "Replaces the earlier version" in new.warnings[-1]
    assert [h.text for h in workbench.search("kb", "When is the launch?")] == ["The launch is now in July."]
    assert [d.id for d in workbench.documents("kb")] == [new.document_id]
    store = workbench.store("kb")
    assert workbench.backend("lancedb").count(store.collection) == 1
    assert old.document_id != new.document_id


def test_a_failed_replacement_keeps_the_old_version(settings: Settings) -> None:
    from core.ingest import IngestOptions

    workbench = Workbench(settings).as_user("admin")
    workbench.create_store("kb")
    workbench.ingest("kb", [Upload("plan.txt", b"Version one of the plan.")])
    flaky = FlakyStore(settings, fail_on=1)
    workbench._backends["lancedb"] = flaky
    [failed] = workbench.ingest(
        "kb", [Upload("plan.txt", b"Version two of the plan.")], options=IngestOptions(replace=True)
    )
    assert failed.status is IngestStatus.FAILED
    assert [h.text for h in workbench.search("kb", "plan")] == ["Version one of the plan."]
