"""Milvus backend: Milvus Lite (a local file) on a laptop, a Milvus server or Zilliz Cloud (URI + token) at scale.

Full text uses Milvus's built-in BM25 (an analyzer on the text field, a BM25 function filling a sparse
vector field). Milvus Lite runs BM25 with the standard tokenizer and lowercasing but does not stem, so
'running' does not match 'run' there as it does on LanceDB or a Milvus server.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BackendUnavailable, InvalidInput, NotFound
from core.records import Chunk, Hit
from core.stores import CHUNK_FIELDS, Indexing, Where, chunk_id, chunk_of, read_text, stored_text

log = logging.getLogger(__name__)

TEXT_BYTES = 65_535  # Milvus VARCHAR limit; longer chunk texts are cut (with a log line) to fit
ANALYZER = {
    "tokenizer": "standard",
    "filter": ["lowercase", {"type": "stop", "stop_words": ["_english_"]}, {"type": "stemmer", "language": "english"}],
}
NO_PAGE = -1
MINIMUM_VERSION = (2, 5)  # the BM25 function full-text search stands on


@dataclass(frozen=True)
class Config:
    uri: str  # a file path (Milvus Lite) or http(s)://host:19530
    token: str = field(default="", repr=False)  # "user:password" or a Zilliz API key
    db_name: str = ""
    consistency: str = "Strong"
    search_params: str = ""  # JSON, e.g. {"nprobe": 16} or {"ef": 64}
    partition: str = ""
    extra_filter: str = ""  # a Milvus boolean expression added to every search


class MilvusStore:
    """Each store is a Milvus collection; reads use the configured consistency level (Strong by default)."""

    def __init__(self, config: Config) -> None:
        self.uri = config.uri
        self.token = config.token
        self.db_name = config.db_name
        self.consistency = config.consistency
        self.search_params = _json_setting("WORKBENCH_MILVUS_SEARCH_PARAMS", config.search_params)
        self.partition = config.partition or None
        self.extra_filter = config.extra_filter.strip()
        self._client: Any = None
        self._lock = threading.Lock()
        self._fulltext: dict[str, bool] = {}
        self._loaded: set[str] = set()

    @property
    def lite(self) -> bool:
        return not self.uri.startswith(("http://", "https://", "tcp://", "unix:"))

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self) -> Any:
        from pymilvus import MilvusClient

        if self.lite:
            Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
            # Milvus Lite's embedded gRPC server logs a traceback for calls it does not implement (AllocTimestamp),
            # which pymilvus tries and then does without: noise for a command that succeeds.
            logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
            logging.getLogger("milvus_lite").setLevel(logging.CRITICAL)  # a held lock: our one sentence says it
        try:
            kwargs: dict[str, Any] = {"uri": self.uri}
            if self.token:
                kwargs["token"] = self.token
            if self.db_name and not self.lite:
                kwargs["db_name"] = self.db_name
            client = MilvusClient(**kwargs)
        except Exception as exc:  # connection, lock or auth trouble: say which
            if self.lite and _locked(Path(self.uri)):
                raise BackendUnavailable(LOCKED.format(uri=self.uri)) from exc
            raise BackendUnavailable(
                f"Could not connect to Milvus at {self.uri}: {str(exc).splitlines()[0][:200]}"
            ) from exc
        if not self.lite:
            try:
                version = str(client.get_server_version())
            except Exception as exc:  # a server that will not say (a proxy, a managed service): go on
                log.warning("milvus: %s did not give its version: %s", self.uri, str(exc).splitlines()[0][:200])
                return client
            try:
                check_version(version, self.uri)
            except BackendUnavailable:
                client.close()
                raise
            log.info("milvus: connected to %s (server %s)", self.uri, version)
        return client

    def _filter(self, where: Where | None) -> str:
        """The documents pre-filter, and the power user's own expression (WORKBENCH_MILVUS_FILTER), both applied."""
        parts = [p for p in (_clause(where) if where else "", self.extra_filter) if p]
        return " and ".join(f"({p})" for p in parts)

    def _require(self, collection: str) -> None:
        """The collection exists and is loaded: a collection written by another process (or before a restart)
        starts out released, and Milvus refuses to search it until it is loaded."""
        if collection in self._loaded:
            return
        client = self.client
        if not client.has_collection(collection):
            raise NotFound(f"The vector data for this store ({collection}) is missing from Milvus at {self.uri}.")
        state = str(client.get_load_state(collection).get("state", ""))
        if "Loaded" not in state:
            client.load_collection(collection)
            log.info("milvus: loaded collection %s (was %s)", collection, state or "unknown")
        self._loaded.add(collection)

    def create(self, collection: str, *, dimension: int) -> None:
        from pymilvus import DataType, Function, FunctionType

        client = self.client
        if client.has_collection(collection):
            existing = _dimension(client.describe_collection(collection))
            if existing != dimension:
                raise InvalidInput(f"Collection {collection} exists with dimension {existing}, not {dimension}.")
            return
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=80)
        schema.add_field("document_id", DataType.VARCHAR, max_length=64)
        schema.add_field("filename", DataType.VARCHAR, max_length=1024)
        schema.add_field(
            "text", DataType.VARCHAR, max_length=TEXT_BYTES, enable_analyzer=True, analyzer_params=ANALYZER
        )
        schema.add_field("page", DataType.INT64)
        schema.add_field("chunk_index", DataType.INT64)
        schema.add_field("char_start", DataType.INT64)
        schema.add_field("char_end", DataType.INT64)
        schema.add_field("heading", DataType.VARCHAR, max_length=2048)
        schema.add_field("location", DataType.VARCHAR, max_length=2048)
        schema.add_field("metadata", DataType.JSON)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(
            Function(
                name="text_bm25",
                function_type=FunctionType.BM25,
                input_field_names=["text"],
                output_field_names=["sparse"],
            )
        )
        index = client.prepare_index_params()
        index.add_index("vector", index_type="AUTOINDEX", metric_type="COSINE")
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        client.create_collection(collection, schema=schema, index_params=index, consistency_level=self.consistency)
        log.info("milvus: created collection %s (dim %d) at %s", collection, dimension, self.uri)

    def drop(self, collection: str) -> None:
        self._loaded.discard(collection)
        if self.client.has_collection(collection):
            self.client.drop_collection(collection)
        log.info("milvus: dropped collection %s", collection)

    def add(self, collection: str, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        for start in range(0, len(chunks), 1000):
            rows = self._rows(collection, chunks[start : start + 1000], vectors[start : start + 1000])
            self.client.insert(collection, rows, partition_name=self.partition)

    def upsert(self, collection: str, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        for start in range(0, len(chunks), 1000):
            rows = self._rows(collection, chunks[start : start + 1000], vectors[start : start + 1000])
            self.client.upsert(collection, rows, partition_name=self.partition)

    def _rows(self, collection: str, chunks: Sequence[Chunk], vectors: np.ndarray) -> list[dict[str, Any]]:
        if len(chunks) != len(vectors):
            raise InvalidInput(f"{len(chunks)} chunks but {len(vectors)} vectors.")
        if not chunks:
            return []
        self._require(collection)
        dimension = _dimension(self.client.describe_collection(collection))
        if vectors.ndim != 2 or vectors.shape[1] != dimension:
            raise InvalidInput(f"Vectors of dimension {vectors.shape[-1]} do not fit this store ({dimension}).")
        rows = [
            {
                "id": chunk_id(c.document_id, c.chunk_index),
                "document_id": c.document_id,
                "filename": _fit(c.filename, 1024),
                "text": _fit(stored_text(c), TEXT_BYTES),
                "page": NO_PAGE if c.page is None else c.page,
                "chunk_index": c.chunk_index,
                "char_start": c.start,
                "char_end": c.end,
                "heading": _fit(c.heading or "", 2048),
                "location": _fit(c.location or "", 2048),
                "metadata": dict(c.metadata),
                "vector": v.astype(np.float32).tolist(),
            }
            for c, v in zip(chunks, vectors, strict=True)
        ]
        return rows

    def delete_documents(self, collection: str, document_ids: Sequence[str]) -> None:
        if document_ids:
            self._require(collection)
            self.client.delete(collection, filter=_in_documents(frozenset(document_ids)))

    def search(
        self, collection: str, vector: np.ndarray, *, top_k: int, where: Where | None = None, exact: bool = False
    ) -> list[Hit]:
        """Milvus Lite's index is FLAT (every search exact); a server's AUTOINDEX chooses its own parameters from
        the collection's size and has no exact mode, so `exact` changes nothing there (Indexing says which)."""
        if where is not None and where.nothing:
            return []
        self._require(collection)
        result = self.client.search(
            collection,
            data=[np.asarray(vector, dtype=np.float32).ravel().tolist()],
            anns_field="vector",
            limit=top_k,
            filter=self._filter(where),
            output_fields=CHUNK_FIELDS,
            search_params={"metric_type": "COSINE", "params": self.search_params},
            partition_names=[self.partition] if self.partition else None,
            consistency_level=self.consistency,
        )
        return [_hit(r["entity"], float(r["distance"])) for r in result[0]]

    def fulltext(self, collection: str, query: str, *, top_k: int, where: Where | None = None) -> list[Hit]:
        if (where is not None and where.nothing) or not query.strip():
            return []
        self._require(collection)
        result = self.client.search(
            collection,
            data=[query],
            anns_field="sparse",
            limit=top_k,
            filter=self._filter(where),
            output_fields=CHUNK_FIELDS,
            search_params={"metric_type": "BM25"},
            partition_names=[self.partition] if self.partition else None,
            consistency_level=self.consistency,
        )
        # Milvus Lite reports BM25 as a negative distance, a server as a positive score: the magnitude is the score
        return [_hit(r["entity"], abs(float(r["distance"]))) for r in result[0]]

    def vectors(self, collection: str, hits: Sequence[Hit]) -> np.ndarray:
        self._require(collection)
        ids = [chunk_id(h.document_id, h.chunk_index) for h in hits]
        if not ids:
            return np.zeros((0, _dimension(self.client.describe_collection(collection))), dtype=np.float32)
        rows = self.client.query(
            collection,
            filter=f"id in {json.dumps(ids)}",
            output_fields=["id", "vector"],
            consistency_level=self.consistency,
        )
        by_id = {r["id"]: np.asarray(r["vector"], dtype=np.float32) for r in rows}
        dimension = _dimension(self.client.describe_collection(collection)) if len(by_id) < len(ids) else 0
        missing = np.zeros(dimension, dtype=np.float32)  # deleted since the search: similar to nothing
        return np.stack([by_id.get(i, missing) for i in ids])

    def maintain(self, collection: str) -> None:
        self._require(collection)
        self.client.flush(collection)

    def indexing(self, collection: str) -> Indexing:
        rows = self.count(collection)
        described = self.client.describe_index(collection, "vector") or {}
        kind = str(described.get("index_type") or "FLAT")
        pending = int(described.get("pending_index_rows") or 0)
        return Indexing(rows=rows, vector_index=None if kind == "FLAT" else kind, unindexed=pending)

    def count(self, collection: str, *, document_id: str | None = None) -> int:
        self._require(collection)
        expression = _in_documents(frozenset([document_id])) if document_id else ""
        rows = self.client.query(
            collection, filter=expression, output_fields=["count(*)"], consistency_level=self.consistency
        )
        return int(rows[0]["count(*)"])

    def document_chunks(self, collection: str, document_id: str) -> list[Chunk]:
        self._require(collection)
        rows = self.client.query(
            collection,
            filter=f"document_id == {json.dumps(document_id)}",
            output_fields=CHUNK_FIELDS,
            consistency_level=self.consistency,
        )
        return sorted((_chunk(r) for r in rows), key=lambda c: c.chunk_index)

    def size_bytes(self, collection: str) -> int | None:
        return None  # Milvus keeps collections together (a Lite file, or a server's storage)

    def scan(self, collection: str, *, batch: int = 1000) -> Iterator[tuple[list[Chunk], np.ndarray]]:
        self._require(collection)
        iterator = self.client.query_iterator(
            collection, batch_size=batch, filter="", output_fields=[*CHUNK_FIELDS, "vector"]
        )
        try:
            while rows := iterator.next():
                yield [_chunk(r) for r in rows], np.asarray([r["vector"] for r in rows], dtype=np.float32)
        finally:
            iterator.close()


LOCKED = (
    "The Milvus Lite file {uri} is open in another process (the app or another command). "
    "Milvus Lite allows one process at a time: stop the other one, or point WORKBENCH_MILVUS_URI at a Milvus server."
)


def check_version(version: str, uri: str) -> None:
    """Refuse, in words, a server too old for the schema (a 2.3 server would accept the collection and silently
    drop its BM25 function, then fail every insert). Milvus Lite (`milvus_lite-3.2.2`) has BM25."""
    if version.startswith("milvus_lite"):
        return
    found = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", version)
    if found is None:
        log.warning("milvus: server %s reports an unreadable version %r; assuming it is recent", uri, version)
        return
    if (int(found.group(1)), int(found.group(2))) < MINIMUM_VERSION:
        need = ".".join(map(str, MINIMUM_VERSION))
        raise BackendUnavailable(
            f"The Milvus server at {uri} runs Milvus {found.group(0)}; Milvus stores need Milvus {need} or newer "
            "(for BM25 full-text search). Upgrade the server, or make this store with the LanceDB backend."
        )


def _locked(data_dir: Path) -> bool:
    """Whether another process holds Milvus Lite's advisory lock on this database (its LOCK file)."""
    import fcntl

    lock = data_dir / "LOCK"
    if not lock.exists():
        return False
    with lock.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def _json_setting(name: str, raw: str) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f'{name} must be a JSON object such as {{"nprobe": 16}} or {{"ef": 64}}: {exc.msg}.'
        ) from exc
    if not isinstance(value, dict):
        raise InvalidInput(f'{name} must be a JSON object such as {{"nprobe": 16}}.')
    return value


def _dimension(description: dict[str, Any]) -> int:
    field = next(f for f in description["fields"] if f["name"] == "vector")
    return int(field["params"]["dim"])


def _fit(text: str, limit: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    log.warning("milvus: a text of %d bytes was cut to the %d-byte VARCHAR limit", len(encoded), limit)
    return encoded[:limit].decode("utf-8", "ignore")


def _in_documents(document_ids: frozenset[str]) -> str:
    return f"document_id in {json.dumps(sorted(document_ids))}"


def _clause(where: Where) -> str:
    parts = [_in_documents(where.document_ids)] if where.document_ids is not None else []
    parts += [f"id not in {json.dumps(sorted(where.hidden))}"] if where.hidden else []
    parts += [f"document_id not in {json.dumps(sorted(where.excluded))}"] if where.excluded else []
    return " and ".join(parts)


def _hit(entity: dict[str, Any], score: float) -> Hit:
    header, text = read_text(entity["text"])
    return Hit(
        header=header,
        text=text,
        score=score,
        document_id=entity["document_id"],
        filename=entity["filename"],
        chunk_index=int(entity["chunk_index"]),
        start=int(entity["char_start"]),
        end=int(entity["char_end"]),
        page=None if entity["page"] == NO_PAGE else int(entity["page"]),
        heading=entity["heading"] or None,
        location=entity["location"] or None,
    )


def _chunk(row: dict[str, Any]) -> Chunk:
    return chunk_of(_hit(row, 0.0), dict(row.get("metadata") or {}))
