from __future__ import annotations

import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from core.catalog.schema import documents
from core.config import Settings
from core.embedding import get_embedder
from core.errors import DISK_FULL, InvalidInput, WorkbenchError
from core.ingest import Progress, Stage, Upload, content_hash
from core.options import ChunkSettings, IngestOptions, Mode, SearchOptions, Strategy
from core.records import Chunk, Document, DocumentStatus, IngestStatus
from core.stores.lance import Config as LanceConfig
from core.stores.lance import LanceStore
from core.workbench import Workbench
from tests.conftest import filing_pages, make_docx, make_pdf


def test_pdf_and_docx_are_written_and_the_page_three_sentence_is_found_first(workbench: Workbench) -> None:
    workbench.stores.create(workbench.actor("admin"), "kb")
    pdf = make_pdf(filing_pages(5))
    docx = make_docx(lambda d: (d.add_heading("Travel", 1), d.add_paragraph("Hotels up to 180 EUR a night.")))
    results = workbench.documents.ingest(
        workbench.actor("admin"), "kb", [Upload("filing.pdf", pdf), Upload("travel.docx", docx)]
    )
    assert [(r.filename, r.status, r.pages) for r in results] == [
        ("filing.pdf", IngestStatus.WRITTEN, 5),
        ("travel.docx", IngestStatus.WRITTEN, None),
    ]
    store = workbench.stores.get(workbench.actor("admin"), "kb")
    assert workbench.services.backend("lancedb").count(store.collection) == sum(r.chunks for r in results)
    hits = workbench.search.run(workbench.actor("admin"), "kb", "zebras migrate across the Serengeti")
    assert (hits[0].filename, hits[0].page) == ("filing.pdf", 3)
    hits = workbench.search.run(workbench.actor("admin"), "kb", "hotel price limit per night")
    assert (hits[0].filename, hits[0].page, hits[0].heading) == ("travel.docx", None, "Travel")


def test_same_content_is_skipped_even_under_another_name(workbench: Workbench) -> None:
    workbench.stores.create(workbench.actor("admin"), "kb")
    data = b"The only line of this file."
    first = workbench.documents.ingest(workbench.actor("admin"), "kb", [Upload("a.txt", data), Upload("b.txt", data)])
    again = workbench.documents.ingest(workbench.actor("admin"), "kb", [Upload("c.txt", data)])
    assert [r.status for r in first + again] == [IngestStatus.WRITTEN, IngestStatus.DUPLICATE, IngestStatus.DUPLICATE]
    assert "same content as a.txt" in (again[0].error or "")
    assert len(workbench.documents.of(workbench.actor("admin"), "kb")) == 1


def test_bad_files_fail_alone_and_are_recorded_with_the_reason(workbench: Workbench) -> None:
    workbench.stores.create(workbench.actor("admin"), "kb")
    results = workbench.documents.ingest(
        workbench.actor("admin"),
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
    statuses = {d.filename: (d.status, d.error) for d in workbench.documents.of(workbench.actor("admin"), "kb")}
    assert statuses["ok.txt"] == (DocumentStatus.READY, None)
    assert statuses["bad.pdf"][0] is DocumentStatus.FAILED and "damaged" in (statuses["bad.pdf"][1] or "")


def test_oversized_upload_is_refused_before_parsing(tmp_path: Path) -> None:
    from core.config import load_settings

    small = Workbench(load_settings(env={}, secrets_file=tmp_path / "none", data_dir=tmp_path / "d", max_upload_mb=1))
    small.stores.create(small.actor("admin"), "kb")
    [result] = small.documents.ingest(small.actor("admin"), "kb", [Upload("huge.txt", b"a" * (2 * 2**20))])
    assert result.status is IngestStatus.FAILED
    assert "over the 1 MB upload limit" in (result.error or "")


class FlakyStore(LanceStore):
    """LanceDB that fails the n-th write, as a full disk or a dropped connection would."""

    def __init__(self, settings: Settings, fail_on: int) -> None:
        super().__init__(LanceConfig(uri=settings.lance_uri))
        self.writes = 0
        self.fail_on = fail_on

    def add(self, collection: str, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        self.writes += 1
        if self.writes == self.fail_on:
            raise OSError("No space left on device")
        super().add(collection, chunks, vectors)


def test_a_failed_write_leaves_no_half_document(settings: Settings) -> None:
    workbench = Workbench(settings.replace(ingest_batch_chunks=8))
    workbench.stores.create(workbench.actor("admin"), "kb", chunking=ChunkSettings(size=200, overlap=0))
    flaky = FlakyStore(settings, fail_on=3)
    workbench.services._backends["lancedb"] = flaky
    long_doc = Upload("long.pdf", make_pdf(filing_pages(12)))  # many batches: the third write fails mid-document
    short_doc = Upload("later.txt", b"A short note written after the failure.")
    long_result, short_result = workbench.documents.ingest(workbench.actor("admin"), "kb", [long_doc, short_doc])
    assert long_result.status is IngestStatus.FAILED
    assert (long_result.error or "").endswith(DISK_FULL)  # the OSError's ENOSPC, said in words
    assert short_result.status is IngestStatus.WRITTEN
    store = workbench.stores.get(workbench.actor("admin"), "kb")
    assert flaky.count(store.collection, document_id=long_result.document_id or "") == 0
    assert flaky.count(store.collection) == short_result.chunks
    docs = {d.filename: d for d in workbench.documents.of(workbench.actor("admin"), "kb")}
    assert docs["long.pdf"].status is DocumentStatus.FAILED and docs["long.pdf"].chunk_count == 0
    retry = workbench.documents.ingest(
        workbench.actor("admin"), "kb", [long_doc]
    )  # the same file may be tried again after a failure
    assert retry[0].status is IngestStatus.WRITTEN


def test_document_spread_over_many_batches_is_complete(settings: Settings) -> None:
    workbench = Workbench(settings.replace(ingest_batch_chunks=5))
    workbench.stores.create(workbench.actor("admin"), "kb", chunking=ChunkSettings(size=150, overlap=20))
    [result] = workbench.documents.ingest(
        workbench.actor("admin"), "kb", [Upload("long.pdf", make_pdf(filing_pages(6)))]
    )
    assert result.chunks > 15
    store = workbench.stores.get(workbench.actor("admin"), "kb")
    assert workbench.services.backend("lancedb").count(store.collection) == result.chunks
    assert workbench.stores.visible(workbench.actor("admin"))[0].chunks == result.chunks


def test_chunks_of_unfinished_documents_are_invisible_to_search(workbench: Workbench) -> None:
    workbench.stores.create(workbench.actor("admin"), "kb")
    [done] = workbench.documents.ingest(
        workbench.actor("admin"), "kb", [Upload("done.txt", b"Penguins live in Antarctica and eat fish.")]
    )
    store = workbench.stores.get(workbench.actor("admin"), "kb")
    half = Chunk(
        document_id="in-progress",
        filename="half.txt",
        text="Penguins live in Antarctica.",
        chunk_index=0,
        start=0,
        end=28,
    )
    workbench.services.backend("lancedb").add(
        store.collection, [half], get_embedder(store.embedding_model).embed([half.text])
    )
    hits = workbench.search.run(workbench.actor("admin"), "kb", "Where do penguins live?")
    assert [h.filename for h in hits] == ["done.txt"]
    assert hits[0].document_id == done.document_id


@pytest.mark.parametrize("mode", ["vector", "fulltext", "hybrid"])
def test_orphan_chunks_do_not_starve_search_of_ready_matches(workbench: Workbench, mode: str) -> None:
    """More orphan chunks (of a document that never finished) than the candidate pool match better than the one
    ready document: search still returns the ready one (the pool is taken over ready documents only)."""
    workbench.stores.create(workbench.actor("admin"), "kb")
    [done] = workbench.documents.ingest(
        workbench.actor("admin"), "kb", [Upload("done.txt", b"Penguins live in the Antarctic and eat fish and krill.")]
    )
    store = workbench.stores.get(workbench.actor("admin"), "kb")
    text = "Where do penguins live? Penguins live in Antarctica."
    orphans = [
        Chunk(document_id=f"orphan-{n}", filename="half.txt", text=text, chunk_index=0, start=0, end=len(text))
        for n in range(12)
    ]
    vectors = get_embedder(store.embedding_model).embed([c.text for c in orphans])
    workbench.services.backend("lancedb").add(store.collection, orphans, vectors)
    options = SearchOptions(mode=Mode(mode), top_k=3, candidates=5)
    hits = workbench.search.run(workbench.actor("admin"), "kb", "Where do penguins live?", options=options)
    assert [h.document_id for h in hits] == [done.document_id]


def test_ingest_records_embedding_usage(workbench: Workbench) -> None:
    workbench.stores.create(workbench.actor("admin"), "kb")
    workbench.documents.ingest(workbench.actor("admin"), "kb", [Upload("a.txt", b"Some words to embed.")])
    workbench.search.run(workbench.actor("admin"), "kb", "words")
    events = workbench.catalog.usage()
    assert [(e.kind, e.user, e.store, e.model) for e in events] == [
        ("embedding", "admin", "kb", "local/all-minilm-l6-v2"),
        ("ingest", "admin", "kb", "local/all-minilm-l6-v2"),  # the volume written, for the usage charts
        ("embedding", "admin", "kb", "local/all-minilm-l6-v2"),
    ]
    assert events[0].prompt_tokens > 5


def test_chunking_settings_are_validated_when_the_store_is_made(workbench: Workbench) -> None:
    with pytest.raises(InvalidInput):
        workbench.stores.create(workbench.actor("admin"), "kb", chunking=ChunkSettings(size=100, overlap=100))
    with pytest.raises(WorkbenchError):
        workbench.stores.get(workbench.actor("admin"), "kb")
    store = workbench.stores.create(workbench.actor("admin"), "kb", chunking=ChunkSettings("sentence", 300, 0))  # type: ignore[arg-type]
    assert store.chunking == ChunkSettings(Strategy.SENTENCE, 300, 0)


def test_a_new_version_can_replace_the_old_one_or_sit_beside_it(workbench: Workbench) -> None:
    from core.options import IngestOptions

    workbench.stores.create(workbench.actor("admin"), "kb")
    [old] = workbench.documents.ingest(workbench.actor("admin"), "kb", [Upload("plan.txt", b"The launch is in May.")])
    [both] = workbench.documents.ingest(
        workbench.actor("admin"), "kb", [Upload("plan.txt", b"The launch moved to June.")]
    )
    assert "both versions are kept" in both.warnings[0]
    assert {
        h.text for h in workbench.search.run(workbench.actor("admin"), "kb", "When is the launch?", options=None)
    } == {
        "The launch is in May.",
        "The launch moved to June.",
    }
    [new] = workbench.documents.ingest(
        workbench.actor("admin"),
        "kb",
        [Upload("plan.txt", b"The launch is now in July.")],
        options=IngestOptions(replace=True, parse=workbench.documents.parse_options(workbench.actor("admin"), "kb")),
    )
    assert new.status is IngestStatus.WRITTEN and "Replaces the earlier version" in new.warnings[-1]
    assert [h.text for h in workbench.search.run(workbench.actor("admin"), "kb", "When is the launch?")] == [
        "The launch is now in July."
    ]
    assert [d.id for d in workbench.documents.of(workbench.actor("admin"), "kb")] == [new.document_id]
    store = workbench.stores.get(workbench.actor("admin"), "kb")
    assert workbench.services.backend("lancedb").count(store.collection) == 1
    assert old.document_id != new.document_id


def test_a_failed_replacement_keeps_the_old_version(settings: Settings) -> None:
    from core.options import IngestOptions

    workbench = Workbench(settings)
    workbench.stores.create(workbench.actor("admin"), "kb")
    workbench.documents.ingest(workbench.actor("admin"), "kb", [Upload("plan.txt", b"Version one of the plan.")])
    flaky = FlakyStore(settings, fail_on=1)
    workbench.services._backends["lancedb"] = flaky
    [failed] = workbench.documents.ingest(
        workbench.actor("admin"),
        "kb",
        [Upload("plan.txt", b"Version two of the plan.")],
        options=IngestOptions(replace=True),
    )
    assert failed.status is IngestStatus.FAILED
    assert [h.text for h in workbench.search.run(workbench.actor("admin"), "kb", "plan")] == [
        "Version one of the plan."
    ]


class StopRun(BaseException):
    """Stands in for Streamlit's StopException (a rerun when the user touches a widget) and for Ctrl-C."""


def _batched(settings: Settings, size: int = 5) -> Workbench:
    workbench = Workbench(settings.replace(ingest_batch_chunks=size))
    workbench.stores.create(workbench.actor("admin"), "kb", chunking=ChunkSettings(size=150, overlap=0))
    return workbench


def test_progress_tells_each_file_its_stages_and_batch_i_of_n(settings: Settings) -> None:
    workbench = _batched(settings)
    events: list[Progress] = []
    uploads = [
        Upload("long.pdf", make_pdf(filing_pages(6))),
        Upload("note.txt", b"A short note about the quarterly dividend."),
        Upload("copy.txt", b"A short note about the quarterly dividend."),
        Upload("bad.pdf", b"%PDF-1.4 nonsense"),
    ]
    long_result, note, copy, bad = workbench.documents.ingest(
        workbench.actor("admin"), "kb", uploads, on_progress=events.append
    )
    assert bad.status is IngestStatus.FAILED
    by_file = {
        name: [e for e in events if e.filename == name] for name in ("long.pdf", "note.txt", "copy.txt", "bad.pdf")
    }
    stages = [e.stage for e in by_file["long.pdf"]]
    assert stages[:3] == [Stage.READING, Stage.PARSING, Stage.CHUNKING] and stages[-1] is Stage.DONE
    embedding = [(e.batch, e.batches) for e in by_file["long.pdf"] if e.stage is Stage.EMBEDDING]
    batches = -(-long_result.chunks // 5)  # the document starts the upload, so it fills whole batches
    assert embedding == [(i, batches) for i in range(1, batches + 1)]
    assert [e.stage for e in by_file["long.pdf"]].count(Stage.WRITING) == batches
    # the short note shares the last, partial batch: it is reported too, as its own batch 1 of 1
    assert [(e.stage, e.batch, e.batches) for e in by_file["note.txt"] if e.batches] == [
        (Stage.EMBEDDING, 1, 1),
        (Stage.WRITING, 1, 1),
    ]
    assert by_file["note.txt"][-1].stage is Stage.DONE and note.status is IngestStatus.WRITTEN
    assert by_file["copy.txt"][-1].stage is Stage.DUPLICATE and copy.status is IngestStatus.DUPLICATE
    assert by_file["bad.pdf"][-1].stage is Stage.FAILED and "bad.pdf" in by_file["bad.pdf"][-1].detail
    overall = [e.overall for e in events]
    assert overall == sorted(overall) and overall[-1] == 1.0
    assert by_file["long.pdf"][-1].message == f"long.pdf: done: {long_result.chunks} chunks"


def test_an_ingest_stopped_from_its_progress_callback_leaves_no_trace(settings: Settings) -> None:
    workbench = _batched(settings)
    uploads = [Upload("first.txt", b"Complete before the stop."), Upload("long.pdf", make_pdf(filing_pages(6)))]
    seen = {"writes": 0}

    def stop_midway(event: Progress) -> None:
        if event.filename == "long.pdf" and event.stage is Stage.WRITING:
            seen["writes"] += 1
            if seen["writes"] == 2:  # the long document is half written
                raise StopRun

    with pytest.raises(StopRun):
        workbench.documents.ingest(workbench.actor("admin"), "kb", uploads, on_progress=stop_midway)
    store = workbench.stores.get(workbench.actor("admin"), "kb")
    names = {d.filename: d.status for d in workbench.documents.of(workbench.actor("admin"), "kb")}
    assert "long.pdf" not in names  # no half document, not even a failed row
    lance = workbench.services.backend("lancedb")
    assert lance.count(store.collection) == sum(
        d.chunk_count for d in workbench.documents.of(workbench.actor("admin"), "kb")
    )
    again = workbench.documents.ingest(workbench.actor("admin"), "kb", uploads)  # and the same upload simply runs again
    assert [r.status for r in again] == [
        IngestStatus.WRITTEN if names.get("first.txt") is None else IngestStatus.DUPLICATE,
        IngestStatus.WRITTEN,
    ]
    assert (
        workbench.search.run(workbench.actor("admin"), "kb", "Zebras migrate across the Serengeti plains")[0].filename
        == "long.pdf"
    )


def test_a_cancelled_ingest_keeps_finished_files_and_nothing_of_the_rest(settings: Settings) -> None:
    workbench = _batched(settings)
    writes = {"n": 0}

    def count(event: Progress) -> None:
        writes["n"] += event.stage is Stage.WRITING

    uploads = [
        Upload("first.txt", b"Finished before the cancel."),
        Upload("long.pdf", make_pdf(filing_pages(6))),
        Upload("never.txt", b"Never reached."),
    ]
    first, long_result, never = workbench.documents.ingest(
        workbench.actor("admin"), "kb", uploads, on_progress=count, cancelled=lambda: writes["n"] >= 2
    )
    assert (first.status, long_result.status, never.status) == (
        IngestStatus.WRITTEN,
        IngestStatus.CANCELLED,
        IngestStatus.CANCELLED,
    )
    assert [d.filename for d in workbench.documents.of(workbench.actor("admin"), "kb")] == ["first.txt"]
    store = workbench.stores.get(workbench.actor("admin"), "kb")
    assert workbench.services.backend("lancedb").count(store.collection) == first.chunks


def test_documents_left_processing_by_a_killed_process_are_cleaned_at_start(settings: Settings) -> None:
    workbench = _batched(settings)
    store = workbench.stores.get(workbench.actor("admin"), "kb")
    data = b"Orphaned text about lighthouse keepers."
    doc = Document(
        id="orphan",
        store_id=store.id,
        filename="orphan.txt",
        content_hash=content_hash(data),
        size_bytes=len(data),
        status=DocumentStatus.PROCESSING,
        created_at=datetime.now(UTC),
        uploaded_by="admin",
    )
    workbench.catalog.add_documents([doc])
    with workbench.catalog.engine.begin() as conn:  # as if written by a process of this host that has since died
        conn.execute(
            documents.update().where(documents.c.id == "orphan").values(worker=f"{socket.gethostname()}:999999")
        )
    chunk = Chunk(
        document_id="orphan", filename="orphan.txt", text=data.decode(), chunk_index=0, start=0, end=len(data)
    )
    workbench.services.backend("lancedb").add(
        store.collection, [chunk], get_embedder(store.embedding_model).embed([chunk.text])
    )
    live = Workbench(settings)  # a running process's documents are left alone ...
    assert {d.id: d.status for d in live.documents.of(live.actor("admin"), "kb")}["orphan"] is DocumentStatus.FAILED
    [row] = [d for d in live.documents.of(live.actor("admin"), "kb") if d.id == "orphan"]
    assert row.error and row.error.startswith("interrupted")
    assert live.services.backend("lancedb").count(store.collection) == 0
    [again] = live.documents.ingest(
        live.actor("admin"), "kb", [Upload("orphan.txt", data)]
    )  # ... a dead one's are, and the file goes in again
    assert again.status is IngestStatus.WRITTEN
    assert [(d.filename, d.status) for d in live.documents.of(live.actor("admin"), "kb")] == [
        ("orphan.txt", DocumentStatus.READY)
    ]


def test_a_running_process_keeps_its_processing_documents(settings: Settings) -> None:
    workbench = _batched(settings)
    store = workbench.stores.get(workbench.actor("admin"), "kb")
    doc = Document(
        id="mine",
        store_id=store.id,
        filename="mine.txt",
        content_hash="h",
        size_bytes=1,
        status=DocumentStatus.PROCESSING,
        created_at=datetime.now(UTC),
        uploaded_by="admin",
    )
    workbench.catalog.add_documents([doc])  # written by this very process, which is alive
    fresh = Workbench(settings)
    assert fresh.services.recover() == 0
    assert {d.id: d.status for d in workbench.documents.of(workbench.actor("admin"), "kb")}[
        "mine"
    ] is DocumentStatus.PROCESSING


def test_ingest_options_keep_the_configured_parse_options(settings: Settings) -> None:
    workbench = Workbench(settings.replace(max_unzipped_mb=1))
    workbench.stores.create(workbench.actor("admin"), "kb")
    big = make_docx(lambda d: d.add_paragraph("Repeated words compress very well. " * 60_000))  # > 1 MB unzipped
    [result] = workbench.documents.ingest(
        workbench.actor("admin"), "kb", [Upload("big.docx", big)], options=IngestOptions(metadata={"team": "ops"})
    )
    assert result.status is IngestStatus.FAILED and "MB" in (result.error or "")


def test_a_failing_index_tidy_up_does_not_fail_a_written_ingest(
    workbench: Workbench, monkeypatch: pytest.MonkeyPatch
) -> None:
    workbench.stores.create(workbench.actor("admin"), "kb")

    def broken(collection: str) -> None:
        raise OSError("optimize failed")

    monkeypatch.setattr(workbench.services.backend("lancedb"), "maintain", broken)
    [result] = workbench.documents.ingest(
        workbench.actor("admin"), "kb", [Upload("a.txt", b"Still written and searchable.")]
    )
    assert result.status is IngestStatus.WRITTEN
    assert workbench.search.run(workbench.actor("admin"), "kb", "searchable")[0].filename == "a.txt"


def test_ingest_paths_reports_progress_too(workbench: Workbench, tmp_path: Path) -> None:
    workbench.stores.create(workbench.actor("admin"), "kb")
    (tmp_path / "a.txt").write_text("First file.")
    (tmp_path / "b.txt").write_text("Second file.")
    events: list[Progress] = []
    workbench.documents.ingest_paths(
        workbench.actor("admin"), "kb", [tmp_path / "a.txt", tmp_path / "b.txt"], on_progress=events.append
    )
    assert [(e.filename, e.stage) for e in events if e.stage.final] == [("a.txt", Stage.DONE), ("b.txt", Stage.DONE)]
