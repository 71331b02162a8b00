from __future__ import annotations

from pathlib import Path

import pytest

from core.access import role_on
from core.catalog import Catalog, new_id, now
from core.errors import AlreadyExists, InvalidInput, NotFound
from core.records import Document, DocumentStatus, Role, UsageEvent


@pytest.fixture
def catalog(any_database: str) -> Catalog:
    return Catalog(any_database)


def store_in(catalog: Catalog, name: str = "kb", owner: str = "admin"):  # type: ignore[no-untyped-def]
    return catalog.create_store(
        name,
        backend="lancedb",
        embedding_model="local/m",
        embedding_dim=4,
        chunk_size=512,
        chunk_overlap=50,
        owner=owner,
    )


def document(store_id: str, content_hash: str = "h1", status: DocumentStatus = DocumentStatus.PROCESSING) -> Document:
    return Document(
        id=new_id(),
        store_id=store_id,
        filename="a.pdf",
        content_hash=content_hash,
        size_bytes=10,
        status=status,
        created_at=now(),
        uploaded_by="admin",
    )


def test_schema_is_created_on_first_run_in_a_new_folder(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'sub' / 'catalog.db'}")
    assert (tmp_path / "sub" / "catalog.db").is_file()
    assert Catalog(catalog.url).list_stores() == []  # opening again is harmless


def test_schema_is_created_and_opened_again_on_both_databases(catalog: Catalog) -> None:
    store_in(catalog)
    again = Catalog(catalog.url)  # creation and upgrade steps are harmless on an existing schema
    assert [s.name for s in again.list_stores()] == ["kb"]


def test_store_names_are_unique_and_checked(catalog: Catalog) -> None:
    store = store_in(catalog)
    assert catalog.get_store("kb") == store
    with pytest.raises(AlreadyExists, match="'kb' already exists"):
        store_in(catalog)
    for bad in ["", " padded ", "a,b", "x" * 121]:
        with pytest.raises(InvalidInput):
            store_in(catalog, bad)
    with pytest.raises(NotFound, match="no store named 'nope'"):
        catalog.get_store("nope")


def test_roles_come_from_admin_flag_ownership_or_grants(catalog: Catalog) -> None:
    admin = catalog.ensure_user("admin", is_admin=True)
    alice = catalog.add_user("alice")
    bob = catalog.add_user("bob")
    store = store_in(catalog, owner="alice")
    role = lambda user: role_on(user, store, catalog.granted_role(user.name, store))  # noqa: E731  (as core asks)
    assert role(admin) is Role.OWNER
    assert role(alice) is Role.OWNER
    assert role(bob) is None and catalog.granted_role("alice", store) is None  # the owner rule is access's alone
    catalog.grant(store, "bob", Role.READ)
    assert role(bob) is Role.READ
    catalog.grant(store, "bob", Role.WRITE)
    assert [(g.user, g.role) for g in catalog.grants_of(store)] == [("bob", Role.WRITE)]
    catalog.revoke(store, "bob")
    assert role(bob) is None
    with pytest.raises(NotFound):
        catalog.grant(store, "carol", Role.READ)
    with pytest.raises(AlreadyExists):
        catalog.add_user("bob")


def test_document_life_cycle_and_stats(catalog: Catalog) -> None:
    store = store_in(catalog)
    first, second = document(store.id, "h1"), document(store.id, "h2")
    catalog.add_documents([first, second])
    assert catalog.find_by_hash(store, "h1") is not None  # in progress counts as present
    assert catalog.ready_ids(store, [first.id, second.id]) == set()
    catalog.mark_ready({first.id: 7})
    catalog.mark_failed([second.id], "it broke")
    assert catalog.ready_ids(store, [first.id, second.id]) == {first.id}
    assert catalog.find_by_hash(store, "h2") is None  # a failed upload may be retried
    assert catalog.store_stats(store) == (1, 7)
    failed = catalog.list_documents(store, status=DocumentStatus.FAILED)
    assert [(d.id, d.error, d.chunk_count) for d in failed] == [(second.id, "it broke", 0)]


def test_deleting_a_store_removes_its_documents_and_grants(catalog: Catalog) -> None:
    catalog.add_user("bob")
    store = store_in(catalog)
    catalog.grant(store, "bob", Role.READ)
    catalog.add_documents([document(store.id)])
    catalog.delete_store(store)
    assert catalog.list_stores() == []
    assert catalog.list_documents(store) == []
    assert catalog.grants_of(store) == []


def test_usage_events_are_kept(catalog: Catalog) -> None:
    catalog.record_usage(
        UsageEvent(kind="embedding", user="alice", store="kb", model="local/m", prompt_tokens=12, latency_ms=3.5)
    )
    catalog.record_usage(UsageEvent(kind="embedding", user="bob", model="local/m", ok=False, error="boom"))
    events = catalog.usage(user="alice")
    assert [(e.user, e.store, e.prompt_tokens, e.ok) for e in events] == [("alice", "kb", 12, True)]
    assert events[0].created_at is not None and events[0].created_at.tzinfo is not None
    assert [e.error for e in catalog.usage()] == [None, "boom"]


def test_a_catalog_from_an_earlier_version_is_upgraded_on_both_databases(catalog: Catalog) -> None:
    """An earlier catalog lacks a column: opening it adds the column and keeps the rows."""
    import sqlalchemy as sa

    store = store_in(catalog)
    catalog.add_documents([document(store.id, status=DocumentStatus.FAILED)])
    with catalog.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE documents DROP COLUMN error"))
    catalog.engine.dispose()
    upgraded = Catalog(catalog.url)
    assert "error" in {c["name"] for c in sa.inspect(upgraded.engine).get_columns("documents")}
    [kept] = upgraded.list_documents(store)
    assert kept.error is None and kept.status is DocumentStatus.FAILED
    upgraded.mark_failed([kept.id], "could not be read")
    assert upgraded.list_documents(store)[0].error == "could not be read"


def test_replicas_opening_one_old_catalog_at_once_upgrade_it_one_at_a_time(catalog: Catalog) -> None:
    """Four replicas start together on a catalog of an earlier version: all come up, the column is added once."""
    import concurrent.futures

    import sqlalchemy as sa

    with catalog.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE jobs DROP COLUMN attempts"))
        conn.execute(sa.text("DROP TABLE rate_buckets"))
    catalog.engine.dispose()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        opened = list(pool.map(lambda _: Catalog(catalog.url), range(4)))
    assert len(opened) == 4
    assert "attempts" in {c["name"] for c in sa.inspect(opened[0].engine).get_columns("jobs")}
    assert opened[0].take_token("k", capacity=5.0, per_second=1.0, at=0.0) == 4.0
