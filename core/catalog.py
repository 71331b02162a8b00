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
from core.records import (
    ChatMessage,
    Citation,
    Conversation,
    Document,
    DocumentStatus,
    Grant,
    MessageStatus,
    Role,
    Store,
    UsageEvent,
    User,
)
from core.redact import redact, redact_optional

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
    sa.Column("failed_logins", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=True),
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
    sa.Column("generation", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("search_defaults", sa.JSON, nullable=True),  # the retrieval settings chat uses for this store
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
    sa.Column("documents", sa.Integer, nullable=False, default=0, server_default="0"),  # ingest volume
    sa.Column("pages", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("chunks", sa.Integer, nullable=False, default=0, server_default="0"),
)

usage_stores = sa.Table(  # the stores an event touched: one row each (a question may span several)
    "usage_stores",
    metadata,
    sa.Column("event_id", sa.Integer, sa.ForeignKey("usage_events.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("store", sa.String(120), primary_key=True),
)


conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("user_name", sa.String(120), sa.ForeignKey("users.name", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("options", sa.JSON, nullable=False, default=dict),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

conversation_stores = sa.Table(
    "conversation_stores",
    metadata,
    sa.Column(
        "conversation_id", sa.String(32), sa.ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("store_id", sa.String(32), sa.ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
)

# One live copy of a file per store: two ingests of the same file at once (two tabs, two processes) cannot both
# claim it; the loser reports a duplicate. Failed attempts may repeat.
ONE_LIVE_COPY = sa.Index(
    "documents_one_live_copy",
    documents.c.store_id,
    documents.c.content_hash,
    unique=True,
    sqlite_where=documents.c.status != "failed",
    postgresql_where=documents.c.status != "failed",
)

question_sets = sa.Table(  # evaluation question sets saved with a store, re-run after it changes
    "question_sets",
    metadata,
    sa.Column("store_id", sa.String(32), sa.ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(120), primary_key=True),
    sa.Column("content", sa.Text, nullable=False),  # JSON lines, as core.evaluation writes them
    sa.Column("questions", sa.Integer, nullable=False),
    sa.Column("created_by", sa.String(120), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

chat_messages = sa.Table(
    "chat_messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "conversation_id",
        sa.String(32),
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("role", sa.String(12), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("status", sa.String(12), nullable=False, default="complete"),
    sa.Column("citations", sa.JSON, nullable=False, default=list),
    sa.Column("sources", sa.JSON, nullable=False, default=list),
    sa.Column("model", sa.String(200), nullable=False, default=""),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("feedback", sa.Integer, nullable=False, default=0),
    sa.Column("feedback_comment", sa.Text, nullable=False, default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


WORKER = f"{socket.gethostname()}:{os.getpid()}"  # who writes a processing document (see `abandoned`)


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
        try:  # a catalog from before the index may hold duplicates already: it then works without it
            ONE_LIVE_COPY.create(self.engine, checkfirst=True)
        except sa.exc.IntegrityError:
            log.warning("the catalog holds duplicate documents; remove them so that concurrent uploads cannot add more")

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

    def login_failures(self, name: str) -> tuple[int, datetime | None]:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(users.c.failed_logins, users.c.last_failed_at).where(users.c.name == name)
            ).first()
        if row is None:
            return 0, None
        return int(row.failed_logins), _utc(row.last_failed_at) if row.last_failed_at else None

    def set_login_failures(self, name: str, count: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                users.update()
                .where(users.c.name == name)
                .values(failed_logins=count, last_failed_at=now() if count else None)
            )

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

    def set_search_defaults(self, store: Store, values: Mapping[str, object]) -> None:
        with self.engine.begin() as conn:
            conn.execute(stores.update().where(stores.c.id == store.id).values(search_defaults=dict(values)))

    def save_question_set(self, store: Store, name: str, content: str, *, questions: int, user: str) -> None:
        """Create or replace the store's question set `name`."""
        values = {"content": content, "questions": questions, "created_by": user, "updated_at": now()}
        with self.engine.begin() as conn:
            where = (question_sets.c.store_id == store.id) & (question_sets.c.name == name)
            if conn.execute(sa.select(question_sets.c.name).where(where)).first():
                conn.execute(question_sets.update().where(where).values(**values))
            else:
                conn.execute(question_sets.insert().values(store_id=store.id, name=name, **values))

    def question_sets(self, store: Store) -> list[dict[str, Any]]:
        """name, questions, created_by, updated_at of each saved set, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    question_sets.c.name,
                    question_sets.c.questions,
                    question_sets.c.created_by,
                    question_sets.c.updated_at,
                )
                .where(question_sets.c.store_id == store.id)
                .order_by(question_sets.c.updated_at.desc())
            )
            return [dict(r._mapping) for r in rows]

    def question_set(self, store: Store, name: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(question_sets.c.content).where(
                    question_sets.c.store_id == store.id, question_sets.c.name == name
                )
            ).scalar()

    def delete_question_set(self, store: Store, name: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                question_sets.delete().where(question_sets.c.store_id == store.id, question_sets.c.name == name)
            )

    def search_defaults(self, store: Store) -> dict[str, object]:
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(stores.c.search_defaults).where(stores.c.id == store.id)).scalar()
        return dict(value or {})

    def switch_embedding(self, store: Store, *, model: str, dimension: int, generation: int) -> Store:
        """Point the store at its rebuilt collection, in one step: searches move from old vectors to new."""
        with self.engine.begin() as conn:
            conn.execute(
                stores.update()
                .where(stores.c.id == store.id, stores.c.generation == store.generation)
                .values(embedding_model=model, embedding_dim=dimension, generation=generation)
            )
        return self.get_store(store.name)

    def delete_store(self, store: Store) -> None:
        """The store and everything of it; conversations keep their other stores, and go when none is left."""
        with self.engine.begin() as conn:
            linked = [
                r.conversation_id
                for r in conn.execute(
                    sa.select(conversation_stores.c.conversation_id).where(conversation_stores.c.store_id == store.id)
                )
            ]
            for table in (grants, documents, conversation_stores, question_sets):
                conn.execute(table.delete().where(table.c.store_id == store.id))
            conn.execute(stores.delete().where(stores.c.id == store.id))
            if linked:
                still = {
                    r.conversation_id
                    for r in conn.execute(
                        sa.select(conversation_stores.c.conversation_id).where(
                            conversation_stores.c.conversation_id.in_(linked)
                        )
                    )
                }
                orphans = [c for c in linked if c not in still]
                if orphans:
                    conn.execute(chat_messages.delete().where(chat_messages.c.conversation_id.in_(orphans)))
                    conn.execute(conversations.delete().where(conversations.c.id.in_(orphans)))

    def store_stats(self, store: Store) -> tuple[int, int]:
        """(ready documents, chunks in them)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(documents.c.chunk_count), 0)).where(
                    documents.c.store_id == store.id, documents.c.status == DocumentStatus.READY.value
                )
            ).one()
        return int(row[0]), int(row[1])

    def last_change(self, store: Store) -> datetime:
        """When a document of the store last changed, or when the store was made."""
        with self.engine.connect() as conn:
            latest = conn.execute(
                sa.select(sa.func.max(documents.c.updated_at)).where(documents.c.store_id == store.id)
            ).scalar()
        return _utc(latest) if latest else store.created_at

    # documents

    def add_documents(self, docs: Sequence[Document]) -> None:
        """Insert documents (normally in status processing) in one transaction."""
        if not docs:
            return
        with self.engine.begin() as conn:
            conn.execute(documents.insert(), [_document_row(d) for d in docs])

    def claim_documents(self, docs: Sequence[Document]) -> list[Document]:
        """Insert documents one by one; returns those refused because a live copy of the same content exists
        (another ingest claimed it first)."""
        refused = []
        for doc in docs:
            try:
                with self.engine.begin() as conn:
                    conn.execute(documents.insert(), [_document_row(doc)])
            except sa.exc.IntegrityError:
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
                .values(status=DocumentStatus.FAILED.value, chunk_count=0, error=redact(error), updated_at=now())
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

    # conversations

    def create_conversation(self, *, user: str, title: str, stores: Sequence[Store], options: Mapping[str, Any]) -> str:
        conversation_id, created = new_id(), now()
        with self.engine.begin() as conn:
            conn.execute(
                conversations.insert().values(
                    id=conversation_id,
                    user_name=user,
                    title=_title(title),
                    options=dict(options),
                    created_at=created,
                    updated_at=created,
                )
            )
            _link(conn, conversation_id, stores)
        return conversation_id

    def get_conversation(self, conversation_id: str, *, user: str) -> Conversation:
        """The user's own conversation; anyone else's reads as missing."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(conversations).where(
                        conversations.c.id == conversation_id, conversations.c.user_name == user
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                raise NotFound("There is no such conversation; it may have been deleted.")
            return _conversation(row, _linked_names(conn, [conversation_id])[conversation_id])

    def list_conversations(self, *, user: str) -> list[Conversation]:
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    sa.select(conversations)
                    .where(conversations.c.user_name == user)
                    .order_by(conversations.c.updated_at.desc())
                )
                .mappings()
                .all()
            )
            names = _linked_names(conn, [r["id"] for r in rows])
        return [_conversation(r, names[r["id"]]) for r in rows]

    def update_conversation(
        self,
        conversation_id: str,
        *,
        title: str | None = None,
        stores: Sequence[Store] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        values: dict[str, object] = {"updated_at": now()}
        if title is not None:
            values["title"] = _title(title)
        if options is not None:
            values["options"] = dict(options)
        with self.engine.begin() as conn:
            conn.execute(conversations.update().where(conversations.c.id == conversation_id).values(**values))
            if stores is not None:
                conn.execute(
                    conversation_stores.delete().where(conversation_stores.c.conversation_id == conversation_id)
                )
                _link(conn, conversation_id, stores)

    def delete_conversation(self, conversation_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(chat_messages.delete().where(chat_messages.c.conversation_id == conversation_id))
            conn.execute(conversation_stores.delete().where(conversation_stores.c.conversation_id == conversation_id))
            conn.execute(conversations.delete().where(conversations.c.id == conversation_id))

    def add_messages(self, conversation_id: str, entries: Sequence[Mapping[str, Any]]) -> list[int]:
        """Append messages (role, content and optional status, citations, sources, model, error); their ids."""
        ids = []
        with self.engine.begin() as conn:
            for entry in entries:
                result = conn.execute(
                    chat_messages.insert().values(
                        conversation_id=conversation_id,
                        created_at=now(),
                        **{**entry, "error": redact_optional(entry.get("error"))},
                    )
                )
                ids.append(_new_key(result))
            conn.execute(conversations.update().where(conversations.c.id == conversation_id).values(updated_at=now()))
        return ids

    def messages(self, conversation_id: str) -> list[ChatMessage]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(chat_messages)
                .where(chat_messages.c.conversation_id == conversation_id)
                .order_by(chat_messages.c.id)
            ).mappings()
            return [_message(r) for r in rows]

    def set_feedback(self, message_id: int, *, user: str, rating: int, comment: str) -> None:
        """Feedback on an assistant message of the user's own conversation."""
        owned = (
            sa.select(chat_messages.c.id)
            .join(conversations, conversations.c.id == chat_messages.c.conversation_id)
            .where(
                chat_messages.c.id == message_id,
                chat_messages.c.role == "assistant",
                conversations.c.user_name == user,
            )
        )
        with self.engine.begin() as conn:
            if conn.execute(owned).first() is None:
                raise NotFound("There is no such answer to rate; it may have been deleted.")
            conn.execute(
                chat_messages.update()
                .where(chat_messages.c.id == message_id)
                .values(feedback=rating, feedback_comment=comment)
            )

    # usage

    def record_usage(self, event: UsageEvent) -> None:
        stores = list(dict.fromkeys(event.stores or ((event.store,) if event.store else ())))
        with self.engine.begin() as conn:
            result = conn.execute(
                usage_events.insert().values(
                    created_at=event.created_at or now(),
                    kind=event.kind,
                    user_name=event.user,
                    store=stores[0] if len(stores) == 1 else None,
                    model=event.model,
                    prompt_tokens=event.prompt_tokens,
                    completion_tokens=event.completion_tokens,
                    cost=event.cost,
                    latency_ms=event.latency_ms,
                    ok=event.ok,
                    error=redact_optional(event.error),
                    documents=event.documents,
                    pages=event.pages,
                    chunks=event.chunks,
                )
            )
            event_id = _new_key(result)
            if stores:
                conn.execute(usage_stores.insert(), [{"event_id": event_id, "store": s} for s in stores])

    def usage(
        self, *, user: str | None = None, since: datetime | None = None, until: datetime | None = None
    ) -> list[UsageEvent]:
        query = sa.select(usage_events).order_by(usage_events.c.id)
        if user is not None:
            query = query.where(usage_events.c.user_name == user)
        if since is not None:
            query = query.where(usage_events.c.created_at >= since)
        if until is not None:
            query = query.where(usage_events.c.created_at < until)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            linked: dict[int, list[str]] = {}
            ids = [r.id for r in rows]
            for start in range(0, len(ids), 500):
                for link in conn.execute(
                    sa.select(usage_stores).where(usage_stores.c.event_id.in_(ids[start : start + 500]))
                ):
                    linked.setdefault(link.event_id, []).append(link.store)
        return [
            UsageEvent(
                kind=r.kind,
                user=r.user_name,
                store=r.store,
                stores=tuple(sorted(linked.get(r.id, ()))),
                model=r.model,
                prompt_tokens=r.prompt_tokens,
                completion_tokens=r.completion_tokens,
                cost=r.cost,
                latency_ms=r.latency_ms,
                ok=r.ok,
                error=r.error,
                documents=r.documents,
                pages=r.pages,
                chunks=r.chunks,
                created_at=_utc(r.created_at),
            )
            for r in rows
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


def _new_key(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None  # an insert into a table with an integer key
    return int(key[0])


def _title(text: str) -> str:
    words = " ".join(text.split())
    return (words[:77] + "…") if len(words) > 80 else (words or "New conversation")


def _link(conn: sa.Connection, conversation_id: str, linked: Sequence[Store]) -> None:
    if linked:
        conn.execute(
            conversation_stores.insert(),
            [{"conversation_id": conversation_id, "store_id": s.id, "position": i} for i, s in enumerate(linked)],
        )


def _linked_names(conn: sa.Connection, ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
    names: dict[str, list[str]] = {i: [] for i in ids}
    if ids:
        rows = conn.execute(
            sa.select(conversation_stores.c.conversation_id, stores.c.name)
            .join(stores, stores.c.id == conversation_stores.c.store_id)
            .where(conversation_stores.c.conversation_id.in_(list(ids)))
            .order_by(conversation_stores.c.position)
        )
        for row in rows:
            names[row.conversation_id].append(row.name)
    return {k: tuple(v) for k, v in names.items()}


def _conversation(row: RowMapping, names: tuple[str, ...]) -> Conversation:
    return Conversation(
        id=row["id"],
        user=row["user_name"],
        title=row["title"],
        stores=names,
        created_at=_utc(row["created_at"]),
        updated_at=_utc(row["updated_at"]),
        options=dict(row["options"] or {}),
    )


def _message(row: RowMapping) -> ChatMessage:
    return ChatMessage(
        id=row["id"],
        conversation_id=row["conversation_id"],
        role=row["role"],
        content=row["content"],
        created_at=_utc(row["created_at"]),
        status=MessageStatus(row["status"]),
        citations=tuple(Citation(**c) for c in row["citations"] or []),
        sources=tuple(Citation(**c) for c in row["sources"] or []),
        model=row["model"],
        error=row["error"],
        feedback=row["feedback"],
        feedback_comment=row["feedback_comment"],
    )


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
        "generation": store.generation,
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
        generation=int(row["generation"] or 0),
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
