"""Catalog queries: stores, their search defaults and question sets."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.access import check_name
from core.catalog.rows import new_id, now, store_of, store_row, utc
from core.catalog.schema import (
    chat_messages,
    conversation_stores,
    conversations,
    documents,
    grants,
    group_grants,
    question_sets,
    stores,
)
from core.errors import AlreadyExists, NotFound, StoreNotFound
from core.records import DocumentStatus, Store

# A store's counts and last change, per process, kept while its documents version is unchanged (every page lists
# the stores with them: counting a store of a hundred thousand documents at every page would grow with it).
STATS_CACHED_STORES = 20_000  # a few hundred bytes each
STATS_CACHE: dict[tuple[str, str], tuple[int, tuple[int, int, datetime | None]]] = {}
STATS_LOCK = threading.Lock()


class StoreQueries:
    engine: Engine
    url: str

    def documents_version(self, store: Store) -> int:
        """The store's documents version: any change to its documents, by any process, moves it (one key lookup,
        whatever the store holds)."""
        with self.engine.connect() as conn:
            version = conn.execute(sa.select(stores.c.documents_version).where(stores.c.id == store.id)).scalar()
        if version is None:
            raise StoreNotFound(f"Store '{store.name}' no longer exists.")
        return int(version)

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
        metadata: Mapping[str, str] | None = None,
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
            metadata=dict(metadata or {}),
        )
        try:
            with self.engine.begin() as conn:
                conn.execute(stores.insert().values(**store_row(store)))
        except sa.exc.IntegrityError as exc:
            raise AlreadyExists(f"A store named '{name}' already exists; choose another name.") from exc
        return store

    def get_store(self, name: str) -> Store:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(stores).where(stores.c.name == name)).mappings().first()
        if row is None:
            raise NotFound(f"There is no store named '{name}'.")
        return store_of(row)

    def get_store_by_id(self, store_id: str) -> Store:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(stores).where(stores.c.id == store_id)).mappings().first()
        if row is None:
            raise NotFound(f"There is no store with the id '{store_id}'.")
        return store_of(row)

    def stores_named(self, names: Iterable[str]) -> list[Store]:
        """The stores with these names (those that still exist)."""
        wanted = list(set(names))
        if not wanted:
            return []
        with self.engine.connect() as conn:
            return [store_of(r) for r in conn.execute(sa.select(stores).where(stores.c.name.in_(wanted))).mappings()]

    def list_stores(self) -> list[Store]:
        with self.engine.connect() as conn:
            return [store_of(r) for r in conn.execute(sa.select(stores).order_by(stores.c.name)).mappings()]

    def rename_store(self, store: Store, name: str) -> Store:
        check_name(name, "store")
        try:
            with self.engine.begin() as conn:
                conn.execute(stores.update().where(stores.c.id == store.id).values(name=name))
        except sa.exc.IntegrityError as exc:
            raise AlreadyExists(f"A store named '{name}' already exists; choose another name.") from exc
        return self.get_store(name)

    def describe_store(self, store: Store, *, description: str, metadata: Mapping[str, str]) -> Store:
        with self.engine.begin() as conn:
            conn.execute(
                stores.update().where(stores.c.id == store.id).values(description=description, metadata=dict(metadata))
            )
        return self.get_store_by_id(store.id)

    def set_redaction(self, store: Store, on: bool) -> Store:
        with self.engine.begin() as conn:
            conn.execute(stores.update().where(stores.c.id == store.id).values(redact_personal_data=on))
        return self.get_store_by_id(store.id)

    def set_ocr(self, store: Store, mode: str) -> Store:
        with self.engine.begin() as conn:
            conn.execute(stores.update().where(stores.c.id == store.id).values(ocr=mode))
        return self.get_store_by_id(store.id)

    def set_glossary(self, store: Store, terms: Mapping[str, str]) -> Store:
        with self.engine.begin() as conn:
            conn.execute(stores.update().where(stores.c.id == store.id).values(glossary=dict(terms)))
        return self.get_store_by_id(store.id)

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
            for table in (grants, group_grants, documents, conversation_stores, question_sets):
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
        """(ready documents, chunks in them), counted again only when the store's documents changed."""
        return self._stats(store)[:2]

    def _stats(self, store: Store) -> tuple[int, int, datetime | None]:
        version = store.documents_version  # as read with the store, this request: no lookup per store listed
        with STATS_LOCK:
            cached = STATS_CACHE.get((self.url, store.id))
        if cached is not None and cached[0] == version:
            return cached[1]
        with self.engine.connect() as conn:
            count, chunks = conn.execute(
                sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(documents.c.chunk_count), 0)).where(
                    documents.c.store_id == store.id, documents.c.status == DocumentStatus.READY.value
                )
            ).one()
            latest = conn.execute(
                sa.select(sa.func.max(documents.c.updated_at)).where(documents.c.store_id == store.id)
            ).scalar()
        found = (int(count), int(chunks), utc(latest) if latest else None)
        with STATS_LOCK:
            STATS_CACHE[(self.url, store.id)] = (version, found)
            while len(STATS_CACHE) > STATS_CACHED_STORES:
                STATS_CACHE.pop(next(iter(STATS_CACHE)))
        return found

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.select(1))

    def last_change(self, store: Store) -> datetime:
        """When a document of the store last changed, or when the store was made."""
        return self._stats(store)[2] or store.created_at
