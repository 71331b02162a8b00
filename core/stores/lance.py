"""Embedded LanceDB backend: one table per store under the data directory, no server."""

from __future__ import annotations

import json
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import lancedb
import numpy as np
import pyarrow as pa
from lancedb.index import FTS, IvfPq

from core.errors import InvalidInput, NotFound
from core.objects import Objects, remote
from core.records import Chunk, Hit
from core.stores import CHUNK_FIELDS, Indexing, Where, chunk_id, chunk_of, read_text, stored_text

log = logging.getLogger(__name__)


# The vector index. Below VECTOR_INDEX_ROWS a search reads every vector (exact, and fast enough: 25 ms at 10 k rows,
# 60 ms at 100 k, 420 ms at 1 M with the query's embedding, bench/scale.py); past it the table gets an IVF-PQ index,
# built and refreshed by `maintain` in the background (rows written since are still searched, by a scan of those
# rows alone). IVF-PQ over IVF-HNSW-SQ (bench/scale.py, 200 k synthetic rows): both reach recall@10 >= 0.95, PQ
# with its refine step 1.000 against 0.984, built 3x faster (41 s against 116 s) into an index 11x smaller (11 MB
# against 120 MB); HNSW answered in 3 ms against 9, both far below the rest of a search.
# Partitions of about ROWS_PER_PARTITION rows, PROBED_SHARE of them searched per query: on 1 M rows (244
# partitions) probing 20 gave recall@10 0.94, 100 gave 0.994 for 15 ms against 14 (reading the partitions' codes is
# cheap; what costs is reading the refined candidates).
VECTOR_INDEX = "vector_idx"
VECTOR_INDEX_ROWS = 50_000
ROWS_PER_PARTITION = 4096
PROBED_SHARE = 0.4  # of the partitions, searched per query (at least MIN_NPROBES)
MIN_NPROBES = 20
RETRAIN_GROWTH = 4  # the index is built again once its partitions hold this many times the rows they were sized for
SEARCH_REFINE = 5  # candidates read again with their full vectors, per result asked for (PQ's approximation undone)
NO_INDEX_FRESH_S = 5.0  # "no index yet" is looked at again sooner: one built meanwhile is searched with its breadth
NPROBES_FRESH_S = 60.0  # how long a table's partition count is trusted before it is read again (another process
# may have trained the index again)


def partitions(rows: int) -> int:
    return max(16, rows // ROWS_PER_PARTITION)


def nprobes(partitions: int) -> int:
    """Partitions to search in an index of this many."""
    return max(MIN_NPROBES, math.ceil(partitions * PROBED_SHARE))


def _partitions_of(name: str) -> int:
    """An index's partitions, from its name (`vector_idx_244`); 0 for an index named otherwise (made by hand): it is
    probed as MIN_NPROBES allow, and never rebuilt or dropped."""
    count = name.removeprefix(f"{VECTOR_INDEX}_")
    return int(count) if count.isdigit() else 0


def _vector_index(rows: int, dimension: int) -> IvfPq:
    """IVF-PQ over cosine, 8 dimensions per sub-vector where they divide evenly (384 -> 48 codes of one byte: 1/32 of
    the vector; the refine step reads the full ones)."""
    sub_vectors = dimension // 8 if dimension % 8 == 0 else None
    return IvfPq(distance_type="cosine", num_partitions=partitions(rows), num_sub_vectors=sub_vectors)


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
            pa.field("metadata", pa.string()),  # JSON of the document's metadata
            pa.field("vector", pa.list_(pa.float32(), dimension), nullable=False),
        ]
    )


@dataclass(frozen=True)
class Config:
    uri: str  # a folder (embedded) or an object-store URI such as s3://bucket/prefix
    storage_options: Mapping[str, str] = field(default_factory=dict, repr=False)  # the object store's connection


class LanceStore:
    """Each store is a LanceDB table; every read sees the latest committed write, from any process."""

    def __init__(self, config: Config) -> None:
        self.uri = config.uri
        # interval 0: each read checks for newer versions, so the app sees what the CLI ingested.
        self._db = lancedb.connect(
            self.uri, read_consistency_interval=timedelta(0), storage_options=dict(config.storage_options) or None
        )
        self._bucket = (
            Objects(self.uri, options=config.storage_options) if remote(self.uri) else None
        )  # for the size of a table there
        self._tables: dict[str, Any] = {}
        self._fts_ready: set[str] = set()
        self._probes: dict[str, tuple[int, float]] = {}  # collection -> (partitions searched, when read)
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
                table = self._tables[collection] = _migrated(self._db.open_table(collection))
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
            self._fts_ready.discard(collection)
            if self._exists(collection):
                self._db.drop_table(collection)
        log.info("lancedb: dropped table %s", collection)

    def add(self, collection: str, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        batch = self._rows(collection, chunks, vectors)
        if batch is not None:
            table = self._table(collection)
            _retrying(lambda: table.add(batch))
            log.debug("lancedb: added %d rows to %s", len(chunks), collection)

    def upsert(self, collection: str, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        batch = self._rows(collection, chunks, vectors)
        if batch is not None:
            table = self._table(collection)
            merge = table.merge_insert("id").when_matched_update_all().when_not_matched_insert_all()
            _retrying(lambda: merge.execute(batch))
            log.debug("lancedb: upserted %d rows in %s", len(chunks), collection)

    def _rows(self, collection: str, chunks: Sequence[Chunk], vectors: np.ndarray) -> pa.Table | None:
        if len(chunks) != len(vectors):
            raise InvalidInput(f"{len(chunks)} chunks but {len(vectors)} vectors.")
        if not chunks:
            return None
        table = self._table(collection)
        dimension = table.schema.field("vector").type.list_size
        if vectors.ndim != 2 or vectors.shape[1] != dimension:
            raise InvalidInput(f"Vectors of dimension {vectors.shape[-1]} do not fit this store ({dimension}).")
        flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel(), type=pa.float32())
        batch = pa.table(
            {
                "id": [chunk_id(c.document_id, c.chunk_index) for c in chunks],
                "document_id": [c.document_id for c in chunks],
                "filename": [c.filename for c in chunks],
                "text": pa.array([stored_text(c) for c in chunks], type=pa.large_string()),
                "page": pa.array([c.page for c in chunks], type=pa.int32()),
                "chunk_index": pa.array([c.chunk_index for c in chunks], type=pa.int32()),
                "char_start": pa.array([c.start for c in chunks], type=pa.int64()),
                "char_end": pa.array([c.end for c in chunks], type=pa.int64()),
                "heading": pa.array([c.heading for c in chunks], type=pa.string()),
                "location": pa.array([c.location for c in chunks], type=pa.string()),
                "metadata": pa.array(
                    [json.dumps(dict(c.metadata)) if c.metadata else None for c in chunks], type=pa.string()
                ),
                "vector": pa.FixedSizeListArray.from_arrays(flat, dimension),
            },
            schema=schema(dimension),
        )
        return batch

    def delete_documents(self, collection: str, document_ids: Sequence[str]) -> None:
        if not document_ids:
            return
        table = self._table(collection)
        _retrying(lambda: table.delete(_in_documents(frozenset(document_ids))))

    def search(
        self, collection: str, vector: np.ndarray, *, top_k: int, where: Where | None = None, exact: bool = False
    ) -> list[Hit]:
        query = np.asarray(vector, dtype=np.float32).ravel()
        search = self._table(collection).search(query, vector_column_name="vector").distance_type("cosine")
        if exact:
            search = search.bypass_vector_index()
        elif probes := self._nprobes(collection):  # only a table with its vector index (see `maintain`)
            search = search.nprobes(probes).refine_factor(SEARCH_REFINE)
        if where is not None:
            if where.nothing:
                return []
            search = search.where(_clause(where), prefilter=True)
        rows = search.select([*CHUNK_FIELDS, "_distance"]).limit(top_k).to_arrow().to_pylist()
        return [_hit(r, 1.0 - float(r["_distance"])) for r in rows]

    def fulltext(self, collection: str, query: str, *, top_k: int, where: Where | None = None) -> list[Hit]:
        table = self._table(collection)
        self._ensure_fts(collection, table)
        search = table.search(query, query_type="fts")
        if where is not None:
            if where.nothing:
                return []
            search = search.where(_clause(where), prefilter=True)
        try:
            rows = search.select([*CHUNK_FIELDS, "_score"]).limit(top_k).to_arrow().to_pylist()
        except (ValueError, RuntimeError) as exc:  # a query the full-text parser cannot read matches nothing
            log.info("lancedb: full-text query %r failed: %s", query, exc)
            return []
        return [_hit(r, float(r["_score"])) for r in rows]

    def vectors(self, collection: str, hits: Sequence[Hit]) -> np.ndarray:
        table = self._table(collection)
        dimension = table.schema.field("vector").type.list_size
        if not hits:
            return np.zeros((0, dimension), dtype=np.float32)
        ids = [chunk_id(h.document_id, h.chunk_index) for h in hits]
        quoted = ", ".join("'" + i.replace("'", "''") + "'" for i in ids)
        rows = table.search().where(f"id IN ({quoted})").select(["id", "vector"]).limit(len(ids)).to_arrow()
        by_id = dict(
            zip(rows.column("id").to_pylist(), rows.column("vector").to_numpy(zero_copy_only=False), strict=True)
        )
        missing = np.zeros(dimension, dtype=np.float32)  # deleted since the search: similar to nothing
        return np.stack([np.asarray(by_id[i], dtype=np.float32) if i in by_id else missing for i in ids])

    def maintain(self, collection: str) -> None:
        """Fold new rows into the indexes and compact; a table past VECTOR_INDEX_ROWS gets its vector index, built
        again with more partitions once it holds RETRAIN_GROWTH times the rows its partitions were sized for."""
        table = self._table(collection)
        self._ensure_fts(collection, table)
        indices = {i.name: i for i in table.list_indices()}
        for column in ("document_id", "id"):  # a document's chunks, hits' vectors, hidden chunks: found by index
            if f"{column}_idx" not in indices:
                _retrying(partial(table.create_scalar_index, column, index_type="BTREE", replace=True))
        rows = int(table.count_rows())
        vector = next((i for i in indices.values() if i.columns == ["vector"]), None)
        trained = _partitions_of(vector.name) if vector is not None else 0
        outgrown = trained > 0 and rows >= RETRAIN_GROWTH * trained * ROWS_PER_PARTITION  # ours only
        if (vector is None and rows >= VECTOR_INDEX_ROWS) or outgrown:
            started = time.perf_counter()
            index = _vector_index(rows, table.schema.field("vector").type.list_size)
            name = f"{VECTOR_INDEX}_{index.num_partitions}"
            _retrying(lambda: table.create_index("vector", config=index, name=name, replace=True))
            self._probes.pop(collection, None)  # searches use the new index's breadth from now on
            if vector is not None and trained > 0 and vector.name != name:  # ours, outgrown
                _retrying(lambda: table.drop_index(vector.name))
            log.info("lancedb: built the vector index of %s (%d rows, %d partitions) in %.1f s", collection, rows,
                     index.num_partitions, time.perf_counter() - started)  # fmt: skip
        started = time.perf_counter()
        _retrying(table.optimize)
        self._probes.pop(collection, None)
        log.info("lancedb: optimized %s in %.1f s", collection, time.perf_counter() - started)

    def indexing(self, collection: str) -> Indexing:
        table = self._table(collection)
        rows = int(table.count_rows())
        vector = next((i for i in table.list_indices() if i.columns == ["vector"]), None)
        if vector is None:
            return Indexing(rows=rows, vector_index=None, unindexed=rows, due=rows >= VECTOR_INDEX_ROWS)
        stats = table.index_stats(vector.name)
        unindexed = int(stats.num_unindexed_rows) if stats is not None else rows
        trained = _partitions_of(vector.name)
        outgrown = trained > 0 and rows >= RETRAIN_GROWTH * trained * ROWS_PER_PARTITION
        return Indexing(
            rows=rows, vector_index=str(vector.index_type), unindexed=unindexed, due=unindexed > 0 or outgrown
        )

    def _nprobes(self, collection: str) -> int:
        """The partitions a search of this table probes (0: it has no vector index), looked up again every minute
        (another process may have built the index again)."""
        known = self._probes.get(collection)
        if known is not None and time.monotonic() - known[1] < (NPROBES_FRESH_S if known[0] else NO_INDEX_FRESH_S):
            return known[0]
        vector = next((i for i in self._table(collection).list_indices() if i.columns == ["vector"]), None)
        probes = nprobes(_partitions_of(vector.name)) if vector is not None else 0
        self._probes[collection] = (probes, time.monotonic())
        return probes

    def _ensure_fts(self, collection: str, table: Any) -> None:
        """Create the BM25 index on first use; rows written after it are still searched (unindexed rows)."""
        if collection in self._fts_ready:
            return
        with self._lock:
            if not any(i.index_type == "FTS" for i in table.list_indices()):
                table.create_index(
                    "text",
                    config=FTS(
                        stem=True, language="English", remove_stop_words=True, ascii_folding=True, lower_case=True
                    ),
                    replace=True,
                )
                log.info("lancedb: created full-text index on %s", collection)
            self._fts_ready.add(collection)

    def scan(self, collection: str, *, batch: int = 1000) -> Iterator[tuple[list[Chunk], np.ndarray]]:
        for record_batch in (
            self._table(collection).to_lance().to_batches(batch_size=batch, columns=[*CHUNK_FIELDS, "vector"])
        ):
            rows = record_batch.to_pylist()
            yield [_chunk(r) for r in rows], np.asarray([r["vector"] for r in rows], dtype=np.float32)

    def document_chunks(self, collection: str, document_id: str) -> list[Chunk]:
        quoted = document_id.replace("'", "''")
        table = self._table(collection)
        rows = table.search().where(f"document_id = '{quoted}'").select(CHUNK_FIELDS).limit(None).to_arrow()
        return sorted((_chunk(r) for r in rows.to_pylist()), key=lambda c: c.chunk_index)

    def size_bytes(self, collection: str) -> int | None:
        if self._bucket is not None:
            return self._bucket.size(f"{collection}.lance") or None
        folder = Path(self.uri) / f"{collection}.lance"
        if not folder.is_dir():
            return None  # a remote URI, or not written yet
        return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())

    def count(self, collection: str, *, document_id: str | None = None) -> int:
        table = self._table(collection)
        if document_id is None:
            return int(table.count_rows())
        return int(table.count_rows(f"document_id = '{document_id.replace(chr(39), chr(39) * 2)}'"))


def _migrated(table: Any) -> Any:
    """Tables written before a column existed get it, empty (rows keep working; no re-embedding)."""
    missing = [f for f in schema(table.schema.field("vector").type.list_size) if f.name not in table.schema.names]
    if missing:
        table.add_columns(missing)
        log.info("lancedb: added columns %s to %s", [f.name for f in missing], table.name)
    return table


def _chunk(row: dict[str, Any]) -> Chunk:
    return chunk_of(_hit(row, 0.0), json.loads(row["metadata"]) if row.get("metadata") else {})


COMMIT_ATTEMPTS = 8


def _retrying(write: Callable[[], object]) -> None:
    """Run a table write again when another process committed first (LanceDB's "Retryable commit conflict")."""
    for attempt in range(COMMIT_ATTEMPTS):
        try:
            write()
            return
        except Exception as exc:
            if "commit conflict" not in str(exc).lower() or attempt == COMMIT_ATTEMPTS - 1:
                raise
            log.info("lancedb: commit conflict, retrying (%d)", attempt + 1)
            time.sleep(0.05 * 2**attempt * (0.5 + random.random()))


def _quoted(values: frozenset[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(values))


def _in_documents(document_ids: frozenset[str]) -> str:
    return f"document_id IN ({_quoted(document_ids)})"


def _clause(where: Where) -> str:
    parts = [_in_documents(where.document_ids)] if where.document_ids is not None else []
    parts += [f"id NOT IN ({_quoted(where.hidden)})"] if where.hidden else []
    parts += [f"document_id NOT IN ({_quoted(where.excluded)})"] if where.excluded else []
    return " AND ".join(parts) or "TRUE"


def _hit(row: dict[str, Any], score: float) -> Hit:
    header, text = read_text(row["text"])
    return Hit(
        header=header,
        text=text,
        score=score,
        document_id=row["document_id"],
        filename=row["filename"],
        chunk_index=row["chunk_index"],
        start=row["char_start"],
        end=row["char_end"],
        page=row["page"],
        heading=row["heading"],
        location=row["location"],
    )
