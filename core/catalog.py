"""The metadata database: users, stores, grants, documents and usage events (SQLite by default, any SQLAlchemy URL)."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, RowMapping

from core.access import check_name, role_on
from core.errors import AlreadyExists, NotFound
from core.records import Document, DocumentStatus, Grant, Role, Store, UsageEvent, User

log = logging.getLogger(__name__)

metadata = sa.MetaData()

users = sa.Table(
    "users",
    metadata,
    sa.Column("name", sa.String(120), primary_key=True),
    sa.Column("is_admin", sa.Boolean, nullable=False, default=False),
    sa.Column("password_hash", sa.String(200), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
)

stores = sa.Table(
    "stores",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(120), nullable=False, unique=True),
    sa.Column("backend", sa.String(40), nullable=False),
    sa.Column("embedding_model", sa.String(200), nullable=False),
    sa.Column("embedding_dim", sa.Integer, nullable=False),
    sa.Column("chunk_size", sa.Integer, nullable=False),
    sa.Column("chunk_overlap", sa.Integer, nullable=False),
    sa.Column("chunk_strategy", sa.String(20), nullable=False, default="recursive"),
    sa.Column("owner", sa.String(120), nullable=False),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

grants = sa.Table(
    "grants",
    metadata,
    sa.Column("store_id", sa.String(32), sa.ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_name", sa.String(120), sa.ForeignKey("users.name", ondelete="CASCADE"), primary_key=True),
    sa.Column("role", sa.String(10), nullable=False),
)

documents = sa.Table(
    "documents",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("store_id", sa.String(32), sa.ForeignKey("stores.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("filename", sa.String(500), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False, index=True),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("chunk_count", sa.Integer, nullable=False, default=0),
    sa.Column("page_count", sa.Integer, nullable=True),
    sa.Column("uploaded_by", sa.String(120), nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False, default=dict),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("worker", sa.String(200), nullable=True),  # host:pid of the process writing it, while processing
)

usage_events = sa.Table(
    "usage_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("user_name", sa.String(120), nullable=False),
    sa.Column("store", sa.String(120), nullable=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("prompt_tokens", sa.Integer, nullable=False, default=0),
    sa.Column("completion_tokens", sa.Integer, nullable=False, default=0),
    sa.Column("cost", sa.Float, nullable=False, default=0.0),
    sa.Column("latency_ms", sa.Float, nullable=False, default=0.0),
    sa.Column("ok", sa.Boolean, nullable=False, default=True),
    sa.Column("error", sa.Text, nullable=True),
)


messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_name", sa.String(120), nullable=False, index=True),
    sa.Column("stores", sa.String(1000), nullable=False),
    sa.Column("role", sa.String(12), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("citations", sa.JSON, nullable=False, default=list),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


WORKER = f"{socket.gethostname()}:{os.getpid()}"


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Catalog:
    """All metadata reads and writes; one instance per process, safe to share between threads."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _make_engine(url)
        metadata.create_all(self.engine)
        _add_missing_columns(self.engine)

    # users and grants

    def ensure_user(self, name: str, *, is_admin: bool = False) -> User:
        """Return the user, creating it on first sight."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(users).where(users.c.name == name)).mappings().first()
            if row is None:
                conn.execute(users.insert().values(name=name, is_admin=is_admin, created_at=now()))
                return User(name=name, is_admin=is_admin, created_at=now())
        return _user(row)

    def add_user(self, name: str, *, is_admin: bool = False, password_hash: str | None = None) -> User:
        check_name(name, "user")
        with self.engine.begin() as conn:
            if conn.execute(sa.select(users.c.name).where(users.c.name == name)).first():
                raise AlreadyExists(f"A user named '{name}' already exists.")
            created = now()
            conn.execute(
                users.insert().values(name=name, is_admin=is_admin, password_hash=password_hash, created_at=created)
            )
        return User(name=name, is_admin=is_admin, created_at=created)

    def get_user(self, name: str) -> User:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.name == name)).mappings().first()
        if row is None:
            raise NotFound(f"There is no user named '{name}'.")
        return _user(row)

    def password_hash(self, name: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(users.c.password_hash).where(users.c.name == name)).scalar()

    def update_user(
        self, name: str, *, password_hash: str | None = None, is_admin: bool | None = None, disabled: bool | None = None
    ) -> User:
        values: dict[str, object] = {}
        if password_hash is not None:
            values["password_hash"] = password_hash
        if is_admin is not None:
            values["is_admin"] = is_admin
        if disabled is not None:
            values["disabled"] = disabled
        with self.engine.begin() as conn:
            if values:
                conn.execute(users.update().where(users.c.name == name).values(**values))
        return self.get_user(name)

    def list_users(self) -> list[User]:
        with self.engine.connect() as conn:
            return [_user(r) for r in conn.execute(sa.select(users).order_by(users.c.name)).mappings()]

    def grant(self, store: Store, user: str, role: Role) -> Grant:
        self.get_user(user)
        with self.engine.begin() as conn:
            conn.execute(grants.delete().where(grants.c.store_id == store.id, grants.c.user_name == user))
            conn.execute(grants.insert().values(store_id=store.id, user_name=user, role=role.value))
        return Grant(store=store.name, user=user, role=role)

    def revoke(self, store: Store, user: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(grants.delete().where(grants.c.store_id == store.id, grants.c.user_name == user))

    def role_of(self, user: User, store: Store) -> Role | None:
        """The user's role on the store: admins and owners own it; others have their grant or nothing."""
        if user.is_admin or store.owner == user.name:
            return role_on(user, store, None)
        with self.engine.connect() as conn:
            role = conn.execute(
                sa.select(grants.c.role).where(grants.c.store_id == store.id, grants.c.user_name == user.name)
            ).scalar()
        return role_on(user, store, Role(role) if role else None)

    def grants_of(self, store: Store) -> list[Grant]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(grants).where(grants.c.store_id == store.id).order_by(grants.c.user_name))
            return [Grant(store=store.name, user=r.user_name, role=Role(r.role)) for r in rows]

    # stores

    def create_store(
        self,
        name: str,
        *,
        backend: str,
        embedding_model: str,
        embedding_dim: int,
        chunk_size: int,
        chunk_overlap: int,
        owner: str,
        description: str = "",
        chunk_strategy: str = "recursive",
    ) -> Store:
        check_name(name, "store")
        store = Store(
            id=new_id(),
            name=name,
            backend=backend,
            embedding_model=embedding_model,
            embedding_dim=embedding_dim,
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            chunk_strategy=chunk_strategy,
            owner=owner,
            description=description,
            created_at=now(),
        )
        try:
            with self.engine.begin() as conn:
                conn.execute(stores.insert().values(**_store_row(store)))
        except sa.exc.IntegrityError as exc:
            raise AlreadyExists(f"A store named '{name}' already exists; choose another name.") from exc
        return store

    def get_store(self, name: str) -> Store:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(stores).where(stores.c.name == name)).mappings().first()
        if row is None:
            raise NotFound(f"There is no store named '{name}'. Run `python -m core store list` to see the stores.")
        return _store(row)

    def list_stores(self) -> list[Store]:
        with self.engine.connect() as conn:
            return [_store(r) for r in conn.execute(sa.select(stores).order_by(stores.c.name)).mappings()]

    def rename_store(self, store: Store, name: str) -> Store:
        check_name(name, "store")
        try:
            with self.engine.begin() as conn:
                conn.execute(stores.update().where(stores.c.id == store.id).values(name=name))
        except sa.exc.IntegrityError as exc:
            raise AlreadyExists(f"A store named '{name}' already exists; choose another name.") from exc
        return self.get_store(name)

    def delete_store(self, store: Store) -> None:
        with self.engine.begin() as conn:
            for table in (grants, documents):
                conn.execute(table.delete().where(table.c.store_id == store.id))
            conn.execute(stores.delete().where(stores.c.id == store.id))

    def store_stats(self, store: Store) -> tuple[int, int]:
        """(ready documents, chunks in them)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(documents.c.chunk_count), 0)).where(
                    documents.c.store_id == store.id, documents.c.status == DocumentStatus.READY.value
                )
            ).one()
        return int(row[0]), int(row[1])

    # documents

    def add_documents(self, docs: Sequence[Document]) -> None:
        """Insert documents (normally in status processing) in one transaction."""
        if not docs:
            return
        with self.engine.begin() as conn:
            conn.execute(documents.insert(), [_document_row(d) for d in docs])

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
        return _document(row) if row else None

    def mark_ready(self, chunk_counts: dict[str, int], *, retire: Sequence[str] = ()) -> None:
        """Make documents ready and, in the same transaction, forget the ones they replace."""
        with self.engine.begin() as conn:
            if retire:
                conn.execute(documents.delete().where(documents.c.id.in_(list(retire))))
            for doc_id, count in chunk_counts.items():
                conn.execute(
                    documents.update()
                    .where(documents.c.id == doc_id)
                    .values(status=DocumentStatus.READY.value, chunk_count=count, error=None, updated_at=now())
                )

    def failed_copies(self, store: Store, content_hash: str, filename: str) -> list[str]:
        """Failed earlier attempts at this very file (a successful upload of it replaces them)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(documents.c.id).where(
                    documents.c.store_id == store.id,
                    documents.c.content_hash == content_hash,
                    documents.c.filename == filename,
                    documents.c.status == DocumentStatus.FAILED.value,
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
            return [_document(r) for r in rows]

    def abandoned(self) -> list[tuple[Store, list[str]]]:
        """Documents left `processing` by a process that no longer runs (on this host), by store."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(documents.c.id, documents.c.store_id, documents.c.worker).where(
                    documents.c.status == DocumentStatus.PROCESSING.value
                )
            ).all()
        by_store: dict[str, list[str]] = {}
        for row in rows:
            if not _worker_alive(row.worker):
                by_store.setdefault(row.store_id, []).append(row.id)
        found = []
        for store in self.list_stores():
            if store.id in by_store:
                found.append((store, by_store[store.id]))
        return found

    def mark_failed(self, doc_ids: Iterable[str], error: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                documents.update()
                .where(documents.c.id.in_(list(doc_ids)))
                .values(status=DocumentStatus.FAILED.value, chunk_count=0, error=error, updated_at=now())
            )

    def list_documents(self, store: Store, *, status: DocumentStatus | None = None) -> list[Document]:
        query = sa.select(documents).where(documents.c.store_id == store.id)
        if status is not None:
            query = query.where(documents.c.status == status.value)
        with self.engine.connect() as conn:
            return [_document(r) for r in conn.execute(query.order_by(documents.c.created_at)).mappings()]

    def ready_ids(self, store: Store, doc_ids: Iterable[str]) -> set[str]:
        """Those of `doc_ids` that belong to the store and are ready."""
        wanted = list(set(doc_ids))
        if not wanted:
            return set()
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(documents.c.id).where(
                    documents.c.store_id == store.id,
                    documents.c.id.in_(wanted),
                    documents.c.status == DocumentStatus.READY.value,
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
    ) -> set[str]:
        """Ready documents of the store that pass every given filter (metadata values compare as text)."""
        query = sa.select(documents.c.id, documents.c.filename, documents.c.metadata).where(
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
        }

    def delete_document(self, doc_id: str) -> None:
        self.delete_documents([doc_id])

    def delete_documents(self, doc_ids: Sequence[str]) -> None:
        with self.engine.begin() as conn:
            conn.execute(documents.delete().where(documents.c.id.in_(list(doc_ids))))

    # chat history

    def add_message(
        self, *, user: str, stores: str, role: str, content: str, citations: list[dict[str, Any]] | None = None
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                messages.insert().values(
                    user_name=user,
                    stores=stores,
                    role=role,
                    content=content,
                    citations=citations or [],
                    created_at=now(),
                )
            )

    def history(self, *, user: str, stores: str, limit: int = 50) -> list[tuple[str, str]]:
        """The user's last messages on these stores, oldest first, as (role, content)."""
        query = (
            sa.select(messages.c.role, messages.c.content)
            .where(messages.c.user_name == user, messages.c.stores == stores)
            .order_by(messages.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [(r.role, r.content) for r in reversed(conn.execute(query).all())]

    def clear_history(self, *, user: str, stores: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(messages.delete().where(messages.c.user_name == user, messages.c.stores == stores))

    # usage

    def record_usage(self, event: UsageEvent) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                usage_events.insert().values(
                    created_at=event.created_at or now(),
                    kind=event.kind,
                    user_name=event.user,
                    store=event.store,
                    model=event.model,
                    prompt_tokens=event.prompt_tokens,
                    completion_tokens=event.completion_tokens,
                    cost=event.cost,
                    latency_ms=event.latency_ms,
                    ok=event.ok,
                    error=event.error,
                )
            )

    def usage(self, *, user: str | None = None, since: datetime | None = None) -> list[UsageEvent]:
        query = sa.select(usage_events).order_by(usage_events.c.id)
        if user is not None:
            query = query.where(usage_events.c.user_name == user)
        if since is not None:
            query = query.where(usage_events.c.created_at >= since)
        with self.engine.connect() as conn:
            return [
                UsageEvent(
                    kind=r.kind,
                    user=r.user_name,
                    store=r.store,
                    model=r.model,
                    prompt_tokens=r.prompt_tokens,
                    completion_tokens=r.completion_tokens,
                    cost=r.cost,
                    latency_ms=r.latency_ms,
                    ok=r.ok,
                    error=r.error,
                    created_at=_utc(r.created_at),
                )
                for r in conn.execute(query)
            ]


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    return engine


def _add_missing_columns(engine: Engine) -> None:
    """Upgrade a catalog made by an earlier version: add the columns it lacks (with their defaults)."""
    inspector = sa.inspect(engine)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            present = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in present:
                    continue
                ddl = sa.schema.CreateColumn(column).compile(dialect=engine.dialect)  # name, type, default
                conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {ddl}"))
                log.info("catalog upgraded: %s.%s added", table.name, column.name)


def _worker_alive(worker: str | None) -> bool:
    """Whether the process named host:pid still runs; one on another host is assumed to (it sweeps its own)."""
    host, _, pid = (worker or "").rpartition(":")
    if not host or not pid.isdigit():
        return False  # written before workers were recorded: no process of that version is still writing
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return int(pid) != 0


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _user(row: RowMapping) -> User:
    return User(
        name=row["name"],
        is_admin=bool(row["is_admin"]),
        created_at=_utc(row["created_at"]),
        disabled=bool(row["disabled"]),
        has_password=bool(row["password_hash"]),
    )


def _store_row(store: Store) -> dict[str, object]:
    return {
        "id": store.id,
        "name": store.name,
        "backend": store.backend,
        "embedding_model": store.embedding_model,
        "embedding_dim": store.embedding_dim,
        "chunk_size": store.chunk_size,
        "chunk_overlap": store.chunk_overlap,
        "chunk_strategy": store.chunk_strategy,
        "owner": store.owner,
        "description": store.description,
        "created_at": store.created_at,
    }


def _store(row: RowMapping) -> Store:
    return Store(
        id=row["id"],
        name=row["name"],
        backend=row["backend"],
        embedding_model=row["embedding_model"],
        embedding_dim=row["embedding_dim"],
        chunk_size=row["chunk_size"],
        chunk_overlap=row["chunk_overlap"],
        chunk_strategy=row["chunk_strategy"],
        owner=row["owner"],
        description=row["description"],
        created_at=_utc(row["created_at"]),
    )


def _document_row(doc: Document) -> dict[str, object]:
    return {
        "id": doc.id,
        "store_id": doc.store_id,
        "filename": doc.filename,
        "content_hash": doc.content_hash,
        "size_bytes": doc.size_bytes,
        "status": doc.status.value,
        "error": doc.error,
        "chunk_count": doc.chunk_count,
        "page_count": doc.page_count,
        "uploaded_by": doc.uploaded_by,
        "metadata": dict(doc.metadata),
        "created_at": doc.created_at,
        "updated_at": doc.created_at,
        "worker": WORKER if doc.status is DocumentStatus.PROCESSING else None,
    }


def _document(row: RowMapping) -> Document:
    return Document(
        id=row["id"],
        store_id=row["store_id"],
        filename=row["filename"],
        content_hash=row["content_hash"],
        size_bytes=row["size_bytes"],
        status=DocumentStatus(row["status"]),
        error=row["error"],
        chunk_count=row["chunk_count"],
        page_count=row["page_count"],
        uploaded_by=row["uploaded_by"],
        metadata=dict(row["metadata"] or {}),
        created_at=_utc(row["created_at"]),
    )
