"""Catalog queries: editors' changes to single chunks (disabled, edited), and who made them."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.catalog.rows import now, utc
from core.catalog.schema import chunk_changes
from core.records import ChunkChange, Store
from core.stores import chunk_id


class ChunkQueries:
    engine: Engine

    def record_chunk_change(
        self,
        store: Store,
        document_id: str,
        chunk_index: int,
        *,
        by: str,
        disabled: bool | None = None,
        edited: bool = False,
    ) -> ChunkChange:
        """Record a change (disabled set when given; edited stays once set) in one transaction; returns the result."""
        key = (chunk_changes.c.document_id == document_id) & (chunk_changes.c.chunk_index == chunk_index)
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(chunk_changes).where(key)).mappings().first()
            change = ChunkChange(
                document_id,
                chunk_index,
                disabled=bool(row and row["disabled"]) if disabled is None else disabled,
                edited=edited or bool(row and row["edited"]),
                changed_by=by,
                changed_at=now(),
            )
            values = {
                "disabled": change.disabled,
                "edited": change.edited,
                "changed_by": by,
                "changed_at": change.changed_at,
            }
            if row:
                conn.execute(chunk_changes.update().where(key).values(**values))
            else:
                conn.execute(
                    chunk_changes.insert().values(
                        document_id=document_id, chunk_index=chunk_index, store_id=store.id, **values
                    )
                )
        return change

    def chunk_changes(self, store: Store, document_id: str) -> dict[int, ChunkChange]:
        """One document's changed chunks, by chunk index."""
        query = sa.select(chunk_changes).where(
            chunk_changes.c.store_id == store.id, chunk_changes.c.document_id == document_id
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return {
            r["chunk_index"]: ChunkChange(
                r["document_id"], r["chunk_index"], r["disabled"], r["edited"], r["changed_by"], utc(r["changed_at"])
            )
            for r in rows
        }

    def disabled_chunks(self, store: Store) -> set[str]:
        """Row ids (document:index) of the store's disabled chunks: searches leave them out (one indexed read)."""
        query = sa.select(chunk_changes.c.document_id, chunk_changes.c.chunk_index).where(
            chunk_changes.c.store_id == store.id, chunk_changes.c.disabled.is_(True)
        )
        with self.engine.connect() as conn:
            return {chunk_id(r.document_id, r.chunk_index) for r in conn.execute(query)}
