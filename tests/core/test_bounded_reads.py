"""A search reads the store's ready documents (their names, for the documents a question names; their windows, for
the fusion weight) only when the store changed, in this process or another: otherwise one key lookup (its documents version)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from core.catalog import Catalog, new_id, now
from core.catalog.schema import jobs
from core.options import SearchOptions
from core.records import Document, DocumentStatus, Store, UsageEvent
from core.workbench import Workbench
from core.workbench.files import Attach


def _store(catalog: Catalog) -> Store:
    catalog.ensure_user("admin", is_admin=True)
    return catalog.create_store(
        "kb",
        backend="lancedb",
        embedding_model="local/m",
        embedding_dim=4,
        chunk_size=512,
        chunk_overlap=50,
        owner="admin",
    )


def _ready(catalog: Catalog, store: Store, names: list[str]) -> list[str]:
    docs = [
        Document(new_id(), store.id, name, new_id(), 10, DocumentStatus.PROCESSING, now(), "admin") for name in names
    ]
    catalog.add_documents(docs)
    catalog.mark_ready({d.id: 3 for d in docs})
    return [d.id for d in docs]


def test_ready_documents_are_read_again_only_when_the_store_changed(any_database: str) -> None:
    catalog = Catalog(any_database)
    store = _store(catalog)
    ids = _ready(catalog, store, [f"memo-{n}.txt" for n in range(300)])
    assert len(catalog.ready_documents(store)) == 300
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    sa.event.listen(catalog.engine, "after_cursor_execute", seen)
    try:
        assert len(catalog.ready_documents(store)) == 300
    finally:
        sa.event.remove(catalog.engine, "after_cursor_execute", seen)
    assert len(statements) == 1 and "documents_version" in statements[0]  # the version only: one key lookup

    other = Catalog(any_database)  # another process adds a document, then removes an older one
    _ready(other, store, ["annual-report-2024.pdf"])
    assert "annual-report-2024.pdf" in {d.filename for d in catalog.ready_documents(store).documents}
    other.delete_document(ids[5])
    assert len(catalog.ready_documents(store)) == 300 and ids[5] not in {
        d.id for d in catalog.ready_documents(store).documents
    }
    other.mark_failed([ids[7]], "could not be read")
    assert ids[7] not in {d.id for d in catalog.ready_documents(store).documents}
    other.set_document_metadata(ids[8], {"team": "ops"})
    assert next(d for d in catalog.ready_documents(store).documents if d.id == ids[8]).metadata == {"team": "ops"}


def test_an_api_search_asks_the_catalog_about_its_hits_not_the_whole_store(workbench: Workbench) -> None:
    me = workbench.actor("admin")
    workbench.stores.create(me, "kb")
    stored = workbench.files.upload(me, "launch.txt", b"The launch is planned for the third of May.")
    workbench.jobs.add(me, "kb", [Attach(stored.id, attributes={"team": "rockets"})])
    claimed = workbench.catalog.claim_job()
    assert claimed is not None
    workbench.runner.run(claimed)
    store = workbench.catalog.get_store("kb")
    _ready(workbench.catalog, store, [f"memo-{n}.txt" for n in range(300)])  # a large store (no chunks needed)
    workbench.search.files(me, "kb", ["When is the launch?"])  # the first search reads the store's names once
    statements: list[str] = []

    def seen(*args: object) -> None:
        statements.append(str(args[2]))

    sa.event.listen(workbench.catalog.engine, "after_cursor_execute", seen)
    try:
        [hit, *_] = workbench.search.files(me, "kb", ["When is the launch?"])
    finally:
        sa.event.remove(workbench.catalog.engine, "after_cursor_execute", seen)
    assert (hit.file_id, hit.attributes) == (stored.id, {"team": "rockets"})
    whole = [s for s in statements if _reads_whole_store(s)]
    assert whole == [], whole


def _reads_whole_store(statement: str) -> bool:
    """A SELECT of document or job rows bounded by nothing but the store (an aggregate or an id list bounds it)."""
    flat = " ".join(statement.split()).lower()
    rows_of = any(f"from {t} where" in flat for t in ("documents", "jobs"))
    bounded = any(b in flat for b in (" in (", "count(", "max(", " limit ", ".id = "))
    return flat.startswith("select") and rows_of and not bounded


def test_the_upload_panel_reads_the_running_and_recent_jobs_and_their_documents_only(workbench: Workbench) -> None:
    me = workbench.actor("admin")
    workbench.stores.create(me, "kb")
    store = workbench.catalog.get_store("kb")
    old = [workbench.files.upload(me, f"old-{n}.txt", f"Old note {n}.".encode()) for n in range(40)]
    workbench.jobs.add(me, "kb", [Attach(f.id) for f in old])
    while (claimed := workbench.catalog.claim_job()) is not None:
        workbench.runner.run(claimed)
    with workbench.catalog.engine.begin() as conn:  # they ended last week
        conn.execute(jobs.update().values(created_at=now() - timedelta(days=7)))
    fresh = workbench.files.upload(me, "new.txt", b"The launch is planned for the third of May.")
    workbench.jobs.add(me, "kb", [Attach(fresh.id)])
    shown = workbench.jobs.of(me, "kb", since=now() - timedelta(hours=1), limit=10)
    assert [j.filename for j in shown] == ["new.txt"]
    finished = workbench.jobs.of(me, "kb")[-1]
    assert [d.id for d in workbench.documents.of(me, "kb", ids=[finished.document_id or ""])] == [finished.document_id]
    assert len(workbench.documents.of(me, "kb")) == 40 and store.id


def test_a_stores_file_counts_from_the_catalog_match_its_file_list(workbench: Workbench) -> None:
    """Every kind of file a store lists: completed, failed, cancelled, queued, retried (the new attempt counts), a
    completed one whose document was deleted (gone), one added in the app without a job, and the same content
    attached under two file ids (one document, two files)."""
    from core.ingest import Upload
    from tests.conftest import make_docx

    me = workbench.actor("admin")
    workbench.stores.create(me, "kb")

    def attach(name: str, data: bytes) -> str:
        stored = workbench.files.upload(me, name, data)
        workbench.jobs.add(me, "kb", [Attach(stored.id)])
        return stored.id

    def run_all() -> None:
        while (claimed := workbench.catalog.claim_job()) is not None:
            workbench.runner.run(claimed)
            same()

    def same() -> dict[str, int]:  # after every change: the counts (kept between changes) are the list's
        listed = workbench.jobs.files(me, "kb")
        counts, used = workbench.jobs.counts(me, "kb")
        expected = {s: sum(f.status == s for f in listed) for s in ("in_progress", "completed", "failed", "cancelled")}
        assert counts == {**expected, "total": len(listed)}
        assert used == sum(f.size_bytes for f in listed if f.status == "completed")
        return counts

    attach("a.txt", b"Alpha notes about the launch.")
    same()
    twin = attach("a-copy.txt", b"Alpha notes about the launch.")  # same content: completes on the same document
    broken = attach("broken.docx", b"not a docx at all")
    gone = attach("b.txt", b"Beta notes about the budget.")
    same()
    run_all()
    assert workbench.jobs.add(me, "kb", [Attach(broken)])  # tried again: the new attempt replaces the failed one
    same()
    attach("fixed.docx", make_docx(lambda d: d.add_paragraph("Fixed now.")))
    run_all()
    assert len([j for j in workbench.jobs.of(me, "kb") if j.file_id == broken]) == 1
    [job_b] = [j for j in workbench.jobs.of(me, "kb") if j.file_id == gone]
    workbench.documents.delete(me, "kb", job_b.document_id or "")
    same()
    cancelled = attach("c.txt", b"Gamma notes.")
    workbench.jobs.cancel(me, "kb", [j.id for j in workbench.jobs.of(me, "kb") if j.file_id == cancelled])
    same()
    attach("d.txt", b"Delta notes, still waiting.")
    workbench.documents.ingest(me, "kb", [Upload("in-the-app.txt", b"Added on the Upload page directly.")])
    counts = same()
    assert twin in {f.file_id for f in workbench.jobs.files(me, "kb")}
    assert counts["completed"] >= 3 and counts["in_progress"] == 1


def test_the_audit_is_read_a_page_at_a_time_with_totals_from_aggregates(workbench: Workbench) -> None:
    for n in range(250):
        workbench.catalog.record_usage(
            UsageEvent(kind="chat", user="admin", model="remote-chat", prompt_tokens=n, completion_tokens=1,
                       redactions={"email": 1} if n % 50 == 0 else {})
        )  # fmt: skip
    workbench.catalog.record_usage(UsageEvent(kind="chat", user="admin", model="local/smollm2"))  # not remote
    admin = workbench.actor("admin")
    first = workbench.usage.audit(admin, page=1, per_page=200)
    second = workbench.usage.audit(admin, page=2, per_page=200)
    assert len(first) == 200 and len(second) == 50
    assert first[0].prompt_tokens == 249 and second[-1].prompt_tokens == 0  # newest first, nothing twice
    totals = workbench.usage.audit_totals(admin)
    assert (totals.calls, totals.tokens, totals.redacted) == (250, sum(range(250)) + 250, 5)


def test_a_search_of_a_store_of_many_documents_lists_none_of_them(workbench: Workbench) -> None:
    """Past READY_IDS_MAX ready documents, chunks of documents the catalog does not know are left out by name, and
    the search's catalog reads name only its hits (no statement lists the store's documents)."""
    from core.embedding import get_embedder
    from core.ingest import Upload
    from core.records import Chunk
    from core.retrieval import READY_IDS_MAX

    me = workbench.actor("admin")
    workbench.stores.create(me, "kb")
    [done] = workbench.documents.ingest(
        me, "kb", [Upload("done.txt", b"Penguins live in the Antarctic and eat krill.")]
    )
    store = workbench.catalog.get_store("kb")
    _ready(workbench.catalog, store, [f"memo-{n}.txt" for n in range(READY_IDS_MAX + 5)])
    text = "Where do penguins live? Penguins live in Antarctica."
    orphans = [Chunk(document_id=f"orphan-{n}", filename="half.txt", text=text, chunk_index=0, start=0, end=len(text))
               for n in range(12)]  # fmt: skip
    vectors = get_embedder(store.embedding_model).embed([c.text for c in orphans])
    workbench.services.backend("lancedb").add(store.collection, orphans, vectors)
    workbench.search.run(me, "kb", "penguins")  # the names are read once per version of the documents
    statements: list[str] = []

    def seen(*args: object) -> None:
        statements.append(str(args[2]))

    sa.event.listen(workbench.catalog.engine, "before_cursor_execute", seen)
    try:
        hits = workbench.search.run(me, "kb", "Where do penguins live?", options=SearchOptions(top_k=3, candidates=5))
    finally:
        sa.event.remove(workbench.catalog.engine, "before_cursor_execute", seen)
    assert [h.document_id for h in hits] == [done.document_id]
    documents = [s for s in statements if "FROM documents" in s]
    assert documents and all("documents.id IN" in s or "documents.status !=" in s for s in documents)
