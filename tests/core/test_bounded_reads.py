"""A search reads the store's ready documents (their names, for the documents a question names; their windows, for
the fusion weight) only when the store changed, in this process or another: otherwise one aggregate row."""

from __future__ import annotations

import sqlalchemy as sa

from core.catalog import Catalog, new_id, now
from core.records import Document, DocumentStatus, Store


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
    assert len(statements) == 1 and "count(" in statements[0].lower()  # the version only: one aggregate row

    other = Catalog(any_database)  # another process adds a document, then removes an older one
    _ready(other, store, ["annual-report-2024.pdf"])
    assert "annual-report-2024.pdf" in {d.filename for d in catalog.ready_documents(store)}
    other.delete_document(ids[5])
    assert len(catalog.ready_documents(store)) == 300 and ids[5] not in {d.id for d in catalog.ready_documents(store)}
    other.mark_failed([ids[7]], "could not be read")
    assert ids[7] not in {d.id for d in catalog.ready_documents(store)}
