"""Embedded LanceDB backend: one table per store under the data directory, no server."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import lancedb
import numpy as np
import pyarrow as pa

from core.config import Settings
from core.errors import InvalidInput, NotFound
from core.records import Chunk, Hit

log = logging.getLogger(__name__)

COLUMNS = [
    "id",
    "document_id",
    "filename",
    "text",
    "page",
    "chunk_index",
    "char_start",
    "char_end",
    "heading",
    "location",
]


def schema(dimension: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("document_id", pa.string(), nullable=False),
            pa.field("filename", pa.string(), nullable=False),
            pa.field("text", pa.large_string(), nullable=False),
            pa.field("page", pa.int32()),
            pa.field("chunk_index", pa.int32(), nullable=False),
            pa.field("char_start", pa.int64(), nullable=False),
            pa.field("char_end", pa.int64(), nullable=False),
            pa.field("heading", pa.string()),
            pa.field("location", pa.string()),
            pa.field("vector", pa.list_(pa.float32(), dimension), nullable=False),
        ]
    )


class LanceStore:
    """Each store is a LanceDB table; every read sees the latest committed write, from any process."""

    def __init__(self, settings: Settings) -> None:
        self.uri = settings.lance_uri
        # interval 0: each read checks for newer versions, so the app sees what the CLI ingested.
        self._db = lancedb.connect(self.uri, read_consistency_interval=timedelta(0))
        self._tables: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _exists(self, collection: str) -> bool:
        token = None
        while True:
            page = self._db.list_tables(page_token=token)
            if collection in page.tables:
                return True
            token = page.page_token
            if not token:
                return False

    def _table(self, collection: str) -> Any:
        with self._lock:
            table = self._tables.get(collection)
            if table is None:
                if not self._exists(collection):
                    raise NotFound(f"The vector data for this store ({collection}) is missing from {self.uri}.")
                table = self._tables[collection] = self._db.open_table(collection)
            return table

    def create(self, collection: str, *, dimension: int) -> None:
        with self._lock:
            if self._exists(collection):
                existing = self._db.open_table(collection).schema.field("vector").type.list_size
                if existing != dimension:
                    raise InvalidInput(f"Collection {collection} exists with dimension {existing}, not {dimension}.")
                return
            self._tables[collection] = self._db.create_table(collection, schema=schema(dimension))
        log.info("lancedb: created table %s (dim %d)", collection, dimension)

    def drop(self, collection: str) -> None:
        with self._lock:
            self._tables.pop(collection, None)
            if self._exists(collection):
                self._db.drop_table(collection)
        log.info("lancedb: dropped table %s", collection)

    def add(self, collection: str, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        if len(chunks) != len(vectors):
            raise InvalidInput(f"{len(chunks)} chunks but {len(vectors)} vectors.")
        if not chunks:
            return
        table = self._table(collection)
        dimension = table.schema.field("vector").type.list_size
        if vectors.ndim != 2 or vectors.shape[1] != dimension:
            raise InvalidInput(f"Vectors of dimension {vectors.shape[-1]} do not fit this store ({dimension}).")
        flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel(), type=pa.float32())
        batch = pa.table(
            {
                "id": [f"{c.document_id}:{c.chunk_index}" for c in chunks],
                "document_id": [c.document_id for c in chunks],
                "filename": [c.filename for c in chunks],
                "text": pa.array([c.content for c in chunks], type=pa.large_string()),
                "page": pa.array([c.page for c in chunks], type=pa.int32()),
                "chunk_index": pa.array([c.chunk_index for c in chunks], type=pa.int32()),
                "char_start": pa.array([c.start for c in chunks], type=pa.int64()),
                "char_end": pa.array([c.end for c in chunks], type=pa.int64()),
                "heading": pa.array([c.heading for c in chunks], type=pa.string()),
                "location": pa.array([c.location for c in chunks], type=pa.string()),
                "vector": pa.FixedSizeListArray.from_arrays(flat, dimension),
            },
            schema=schema(dimension),
        )
        table.add(batch)
        log.debug("lancedb: added %d rows to %s", len(chunks), collection)

    def delete_documents(self, collection: str, document_ids: Sequence[str]) -> None:
        if not document_ids:
            return
        quoted = ", ".join("'" + d.replace("'", "''") + "'" for d in document_ids)
        self._table(collection).delete(f"document_id IN ({quoted})")

    def search(self, collection: str, vector: np.ndarray, *, top_k: int) -> list[Hit]:
        query = np.asarray(vector, dtype=np.float32).ravel()
        rows = (
            self._table(collection)
            .search(query, vector_column_name="vector")
            .distance_type("cosine")
            .select([*COLUMNS, "_distance"])
            .limit(top_k)
            .to_arrow()
            .to_pylist()
        )
        return [
            Hit(
                text=r["text"],
                score=1.0 - float(r["_distance"]),
                document_id=r["document_id"],
                filename=r["filename"],
                chunk_index=r["chunk_index"],
                start=r["char_start"],
                end=r["char_end"],
                page=r["page"],
                heading=r["heading"],
                location=r["location"],
            )
            for r in rows
        ]

    def count(self, collection: str, *, document_id: str | None = None) -> int:
        table = self._table(collection)
        if document_id is None:
            return int(table.count_rows())
        return int(table.count_rows(f"document_id = '{document_id.replace(chr(39), chr(39) * 2)}'"))
