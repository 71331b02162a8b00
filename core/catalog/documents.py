"""Catalog queries: documents."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.catalog.rows import GAVE_UP, IN_HAND, WORKER, document_of, document_row, now, store_of, utc, worker_alive
from core.catalog.schema import documents, stores
from core.conditions import Condition, Facts, matches
from core.errors import NotFound, StoreNotFound
from core.records import Document, DocumentStatus, ReadyDocuments, Store
from core.redact import redact

READY_CACHED_STORES = 64  # stores whose ready documents are kept (a few hundred bytes per document)
READY_CACHE: dict[tuple[str, str], tuple[int, ReadyDocuments]] = {}
READY_LOCK = threading.Lock()


class DocumentQueries:
    engine: Engine
    url: str
    documents_version: Callable[[Store], int]  # StoreQueries', same Catalog

    def add_documents(self, docs: Sequence[Document]) -> None:
        """Insert documents (normally in status processing) in one transaction."""
        if not docs:
            return
        IN_HAND.update(d.id for d in docs)  # before the insert: a sweep never sees them without an owner
        try:
            with self.engine.begin() as conn:
                conn.execute(documents.insert(), [document_row(d) for d in docs])
                _changed(conn, stores.c.id.in_(list({d.store_id for d in docs})))
        except BaseException:
            IN_HAND.difference_update(d.id for d in docs)
            raise

    def claim_documents(self, docs: Sequence[Document]) -> list[Document]:
        """Insert documents one by one; returns those refused because a live copy of the same content exists
        (another ingest claimed it first)."""
        refused = []
        for doc in docs:
            IN_HAND.add(doc.id)
            try:
                with self.engine.begin() as conn:
                    conn.execute(documents.insert(), [document_row(doc)])
                    _changed(conn, stores.c.id == doc.store_id)
            except BaseException as exc:
                IN_HAND.discard(doc.id)
                if not isinstance(exc, sa.exc.IntegrityError):
                    raise
                with self.engine.connect() as conn:
                    store = conn.execute(sa.select(stores.c.name).where(stores.c.id == doc.store_id)).scalar()
                if store is None:  # not a twin: the store itself was deleted meanwhile
                    raise StoreNotFound("The store was deleted while files were being added to it.") from None
                refused.append(doc)
        return refused

    def find_by_hash(self, store: Store, content_hash: str) -> Document | None:
        """A ready or in-progress document of the store with this content, if any."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(documents).where(
                        documents.c.store_id == store.id,
                        documents.c.content_hash == content_hash,
                        documents.c.status != DocumentStatus.FAILED.value,
                    )
                )
                .mappings()
                .first()
            )
        return document_of(row) if row else None

    def mark_ready(self, chunk_counts: dict[str, int], *, retire: Sequence[str] = ()) -> None:
        """Make documents ready and, in the same transaction, forget the ones they replace. Only a document still
        being written becomes ready: one another process marked interrupted meanwhile (it took over the job of a
        writer it thought had stopped) stays so, its chunks half gone."""
        with _let_go(chunk_counts), self.engine.begin() as conn:
            _changed(conn, _holding([*chunk_counts, *retire]))
            if retire:
                conn.execute(documents.delete().where(documents.c.id.in_(list(retire))))
            for doc_id, count in chunk_counts.items():
                conn.execute(
                    documents.update()
                    .where(documents.c.id == doc_id, documents.c.status == DocumentStatus.PROCESSING.value)
                    .values(status=DocumentStatus.READY.value, chunk_count=count, error=None, updated_at=now())
                )

    def failed_copies(self, store: Store, content_hash: str, filename: str) -> list[str]:
        """Failed earlier attempts at this very file (a successful upload of it replaces them)."""
        return self._copies(
            store, content_hash, documents.c.filename == filename, documents.c.status == DocumentStatus.FAILED.value
        )

    def _copies(self, store: Store, content_hash: str, *conditions: sa.ColumnElement[bool]) -> list[str]:
        """The ids of the store's documents of this content that meet the conditions."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(documents.c.id).where(
                    documents.c.store_id == store.id, documents.c.content_hash == content_hash, *conditions
                )
            )
            return [r.id for r in rows]

    def find_by_name(self, store: Store, filename: str) -> list[Document]:
        """Ready documents of the store with this file name."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(documents).where(
                    documents.c.store_id == store.id,
                    documents.c.filename == filename,
                    documents.c.status == DocumentStatus.READY.value,
                )
            ).mappings()
            return [document_of(r) for r in rows]

    def abandoned(self) -> list[tuple[Store, list[str]]]:
        """Documents left `processing` by a process that no longer runs (on this host), by store."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(documents.c.id, documents.c.store_id, documents.c.worker).where(
                    documents.c.status == DocumentStatus.PROCESSING.value
                )
            ).all()
        by_store: dict[str, list[str]] = {}
        for row in rows:  # a dead process's, or one this process gave up (its catalog went away mid-write)
            if not worker_alive(row.worker) or (row.worker == WORKER and row.id not in IN_HAND):
                by_store.setdefault(row.store_id, []).append(row.id)
        if not by_store:
            return []
        with self.engine.connect() as conn:
            owners = conn.execute(sa.select(stores).where(stores.c.id.in_(list(by_store)))).mappings().all()
        found = [(store_of(row), by_store[row["id"]]) for row in owners]
        return found

    def written_by(self, store: Store, content_hash: str, worker: str) -> list[str]:
        """Documents of this content that the process `worker` left `processing` in the store."""
        return self._copies(
            store, content_hash, documents.c.status == DocumentStatus.PROCESSING.value, documents.c.worker == worker
        )

    def mark_failed(self, doc_ids: Iterable[str], error: str) -> None:
        doc_ids = list(doc_ids)
        with _let_go(doc_ids), self.engine.begin() as conn:
            _changed(conn, _holding(doc_ids))
            conn.execute(
                documents.update()
                .where(documents.c.id.in_(doc_ids))
                .values(status=DocumentStatus.FAILED.value, chunk_count=0, error=redact(error), updated_at=now())
            )

    def ready_documents(self, store: Store) -> ReadyDocuments:
        """The store's ready documents, as a search needs them (their names, their windows), read again only when
        the store changed, in this process or any other: the version is one key lookup."""
        version = self.documents_version(store)
        with READY_LOCK:
            cached = READY_CACHE.get((self.url, store.id))
        if cached is not None and cached[0] == version:
            return cached[1]
        listed = self.list_documents(store, status=DocumentStatus.READY)
        found = ReadyDocuments(tuple(listed), sum(d.chunk_count for d in listed))
        with READY_LOCK:
            READY_CACHE[(self.url, store.id)] = (version, found)
            while len(READY_CACHE) > READY_CACHED_STORES:
                READY_CACHE.pop(next(iter(READY_CACHE)))
        return found

    def list_documents(self, store: Store, *, status: DocumentStatus | None = None) -> list[Document]:
        query = sa.select(documents).where(documents.c.store_id == store.id)
        if status is not None:
            query = query.where(documents.c.status == status.value)
        with self.engine.connect() as conn:
            return [document_of(r) for r in conn.execute(query.order_by(documents.c.created_at)).mappings()]

    def document_page(
        self,
        store: Store,
        *,
        find: str = "",
        extensions: Sequence[str] = (),
        statuses: Sequence[DocumentStatus] = (),
        noted: str = "",
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[Document], int]:
        """One page of the store's documents, newest first, with how many match: a name part (any case), file
        types, statuses. Reads the page's rows and one count, whatever the store holds."""
        conditions: list[sa.ColumnElement[bool]] = [documents.c.store_id == store.id]
        name = sa.func.lower(documents.c.filename)
        if find.strip():
            conditions.append(name.contains(find.strip().lower(), autoescape=True))
        if extensions:
            conditions.append(
                sa.or_(*(name.endswith("." + e.lower().lstrip("."), autoescape=True) for e in extensions))
            )
        if statuses:
            conditions.append(documents.c.status.in_([s.value for s in statuses]))
        if noted:  # a note's opening words ("Read by OCR", "Low OCR confidence")
            conditions.append(sa.cast(documents.c.notes, sa.Text).contains(noted, autoescape=True))
        with self.engine.connect() as conn:
            total = int(
                conn.execute(sa.select(sa.func.count()).select_from(documents).where(*conditions)).scalar() or 0
            )
            rows = conn.execute(
                sa.select(documents)
                .where(*conditions)
                .order_by(documents.c.created_at.desc(), documents.c.id.desc())
                .offset(max(0, offset))
                .limit(max(1, limit))
            ).mappings()
            return [document_of(r) for r in rows], total

    def newest_names(self, stores_: Sequence[Store], *, limit: int) -> list[str]:
        """The file names of the stores' newest ready documents, newest first, at most `limit` rows read."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(documents.c.filename)
                .where(
                    documents.c.store_id.in_([s.id for s in stores_]), documents.c.status == DocumentStatus.READY.value
                )
                .order_by(documents.c.created_at.desc())
                .limit(limit)
            )
            return list(dict.fromkeys(r.filename for r in rows))

    def documents_by_id(self, store: Store, doc_ids: Iterable[str]) -> dict[str, Document]:
        """Those of the store's documents with these ids (a search's hits: not the whole store)."""
        wanted = list(set(doc_ids))
        if not wanted:
            return {}
        with self.engine.connect() as conn:  # by key alone: SQLite would walk the store's index for `store_id =`
            rows = conn.execute(sa.select(documents).where(documents.c.id.in_(wanted))).mappings()
            return {r["id"]: document_of(r) for r in rows if r["store_id"] == store.id}

    def ready_ids(self, store: Store, doc_ids: Iterable[str]) -> set[str]:
        """Those of `doc_ids` that belong to the store and are ready."""
        wanted = list(set(doc_ids))
        if not wanted:
            return set()
        with self.engine.connect() as conn:  # by key alone, as documents_by_id
            rows = conn.execute(
                sa.select(documents.c.id, documents.c.store_id, documents.c.status).where(documents.c.id.in_(wanted))
            )
            return {r.id for r in rows if r.store_id == store.id and r.status == DocumentStatus.READY.value}

    def unready_ids(self, store: Store) -> set[str]:
        """The store's documents that are not ready (being written, failed): a few, read by an index."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(documents.c.id).where(
                    documents.c.store_id == store.id, documents.c.status != DocumentStatus.READY.value
                )
            )
            return {r.id for r in rows}

    def matching_ids(
        self,
        store: Store,
        *,
        filenames: Sequence[str] = (),
        extensions: Sequence[str] = (),
        after: datetime | None = None,
        before: datetime | None = None,
        metadata: Mapping[str, str] | None = None,
        condition: Condition | None = None,
    ) -> set[str]:
        """Ready documents of the store that pass every given filter (metadata values compare as text)."""
        columns = (documents.c.id, documents.c.filename, documents.c.metadata, documents.c.created_at)
        query = sa.select(*columns).where(
            documents.c.store_id == store.id, documents.c.status == DocumentStatus.READY.value
        )
        if filenames:
            query = query.where(documents.c.filename.in_(list(filenames)))
        if after is not None:
            query = query.where(documents.c.created_at >= after)
        if before is not None:
            query = query.where(documents.c.created_at < before)
        wanted_ext = {e.lower().lstrip(".") for e in extensions}
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return {
            r.id
            for r in rows
            if (not wanted_ext or r.filename.rsplit(".", 1)[-1].lower() in wanted_ext)
            and all(str((r.metadata or {}).get(k)) == v for k, v in (metadata or {}).items())
            and (condition is None or matches(condition, Facts(r.id, r.filename, utc(r.created_at), r.metadata or {})))
        }

    def get_document(self, store: Store, doc_id: str) -> Document:
        with self.engine.connect() as conn:
            row = (
                conn.execute(sa.select(documents).where(documents.c.store_id == store.id, documents.c.id == doc_id))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound(f"There is no document '{doc_id}' in '{store.name}'.")
        return document_of(row)

    def set_document_metadata(self, doc_id: str, values: Mapping[str, object]) -> None:
        with self.engine.begin() as conn:
            _changed(conn, _holding([doc_id]))
            conn.execute(documents.update().where(documents.c.id == doc_id).values(metadata=dict(values)))

    def delete_document(self, doc_id: str) -> None:
        self.delete_documents([doc_id])

    def delete_documents(self, doc_ids: Sequence[str]) -> None:
        with _let_go(doc_ids), self.engine.begin() as conn:
            _changed(conn, _holding(doc_ids))
            conn.execute(documents.delete().where(documents.c.id.in_(list(doc_ids))))


def _holding(doc_ids: Iterable[str]) -> sa.ColumnElement[bool]:
    """The stores holding these documents (read before they are removed)."""
    owners = sa.select(documents.c.store_id).where(documents.c.id.in_(list(doc_ids)))
    return stores.c.id.in_(owners.scalar_subquery())


def _changed(conn: sa.Connection, which: sa.ColumnElement[bool]) -> None:
    """Move the documents version of these stores, in the transaction of the change."""
    conn.execute(stores.update().where(which).values(documents_version=stores.c.documents_version + 1))


@contextmanager
def _let_go(doc_ids: Iterable[str]) -> Iterator[None]:
    """This process stops writing these documents, whether or not the catalog took the change: if it did not,
    `abandoned` finds them once it is back."""
    try:
        yield
    except BaseException:
        GAVE_UP.set()  # the catalog may still say "processing": `Services.tidy` sweeps them
        raise
    finally:
        IN_HAND.difference_update(doc_ids)
