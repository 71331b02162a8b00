"""Moving a store between backends or installations: export texts, metadata and vectors; import without re-embedding."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from core.catalog import Catalog, new_id
from core.errors import InvalidInput
from core.records import Chunk, Document, DocumentStatus, Store
from core.stores import VectorStore

log = logging.getLogger(__name__)

MAGIC = "rag-workbench-store"
VERSION = 1
SUFFIXES = (".parquet", ".jsonl")
BATCH = 2000


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    documents: int
    chunks: int


@dataclass(frozen=True)
class StoreExport:
    """An export file's header (the store and its documents) and a way to read its chunks in batches."""

    store: dict[str, Any]
    documents: list[dict[str, Any]]
    batches: Iterator[tuple[list[Chunk], np.ndarray]]


def export_store(store: Store, documents: list[Document], backend: VectorStore, path: Path) -> ExportSummary:
    """Write the store (Parquet or JSONL, chosen by the file name) and return what was written."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInput(f"Export to a .parquet or .jsonl file, not '{path.name}'.")
    header = {
        "format": MAGIC,
        "version": VERSION,
        "store": {
            "name": store.name,
            "embedding_model": store.embedding_model,
            "embedding_dim": store.embedding_dim,
            "chunk_strategy": store.chunk_strategy,
            "chunk_size": store.chunk_size,
            "chunk_overlap": store.chunk_overlap,
            "description": store.description,
        },
        "documents": [_document_json(d) for d in documents],
    }
    ready = {d.id for d in documents}
    chunks = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".jsonl":
        with path.open("w", encoding="utf-8") as out:
            out.write(json.dumps(header, ensure_ascii=False) + "\n")
            for batch, vectors in backend.scan(store.collection, batch=BATCH):
                for chunk, vector in zip(batch, vectors, strict=True):
                    if chunk.document_id in ready:
                        out.write(json.dumps({**asdict(chunk), "vector": vector.tolist()}, ensure_ascii=False) + "\n")
                        chunks += 1
    else:
        schema = _parquet_schema(store.embedding_dim).with_metadata({MAGIC: json.dumps(header, ensure_ascii=False)})
        with pq.ParquetWriter(path, schema) as writer:
            for batch, vectors in backend.scan(store.collection, batch=BATCH):
                keep = [i for i, c in enumerate(batch) if c.document_id in ready]
                if keep:
                    writer.write_table(_parquet_table([batch[i] for i in keep], vectors[keep], schema))
                    chunks += len(keep)
    log.info("exported store %s: %d documents, %d chunks to %s", store.name, len(documents), chunks, path)
    return ExportSummary(path=path, documents=len(documents), chunks=chunks)


def read_export(path: Path, *, shown_as: str | None = None) -> StoreExport:
    """The export's header and batches; errors name the file as the user knows it (`shown_as`)."""
    if not path.is_file():
        raise InvalidInput(f"There is no file at {shown_as or path}.")
    suffix = path.suffix.lower()
    label = Path(shown_as or path.name)
    if suffix == ".jsonl":
        with path.open(encoding="utf-8") as lines:
            header = _header(lines.readline(), label)
        return StoreExport(store=header["store"], documents=header["documents"], batches=_jsonl_batches(path))
    if suffix == ".parquet":
        try:
            parquet = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InvalidInput(f"{label.name} is not a store export (it is not a readable Parquet file).") from exc
        raw = (parquet.schema_arrow.metadata or {}).get(MAGIC.encode())
        header = _header(raw.decode() if raw else "", label)
        return StoreExport(store=header["store"], documents=header["documents"], batches=_parquet_batches(parquet))
    raise InvalidInput(f"Import a .parquet or .jsonl store export, not '{label.name}'.")


def _header(line: str, path: Path) -> dict[str, Any]:
    try:
        header = json.loads(line)
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != MAGIC:
        raise InvalidInput(
            f"{path.name} is not a store export made by a workbench (its export of a store, as .parquet or .jsonl)."
        )
    if header.get("version") != VERSION:
        raise InvalidInput(
            f"{path.name} is a version {header.get('version')} export; this workbench reads version {VERSION}."
        )
    return header


def _jsonl_batches(path: Path) -> Iterator[tuple[list[Chunk], np.ndarray]]:
    with path.open(encoding="utf-8") as lines:
        lines.readline()
        chunks: list[Chunk] = []
        vectors: list[list[float]] = []
        for line in lines:
            row = json.loads(line)
            vectors.append(row.pop("vector"))
            chunks.append(Chunk(**row))
            if len(chunks) == BATCH:
                yield chunks, np.asarray(vectors, dtype=np.float32)
                chunks, vectors = [], []
        if chunks:
            yield chunks, np.asarray(vectors, dtype=np.float32)


def _parquet_schema(dimension: int) -> pa.Schema:
    return pa.schema(
        [
            ("document_id", pa.string()),
            ("filename", pa.string()),
            ("text", pa.large_string()),
            ("chunk_index", pa.int32()),
            ("start", pa.int64()),
            ("end", pa.int64()),
            ("page", pa.int32()),
            ("heading", pa.string()),
            ("context", pa.string()),
            ("location", pa.string()),
            ("metadata", pa.string()),  # the document's metadata as JSON, for backend-side filters
            ("vector", pa.list_(pa.float32(), dimension)),
        ]
    )


def _parquet_table(chunks: list[Chunk], vectors: np.ndarray, schema: pa.Schema) -> pa.Table:
    columns: dict[str, Any] = {
        name: [getattr(c, name) for c in chunks] for name in schema.names if name not in ("vector", "metadata")
    }
    columns["metadata"] = [json.dumps(dict(c.metadata), ensure_ascii=False) for c in chunks]
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel(), type=pa.float32())
    columns["vector"] = pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1])
    return pa.table(columns, schema=schema)


def _parquet_batches(parquet: pq.ParquetFile) -> Iterator[tuple[list[Chunk], np.ndarray]]:
    for batch in parquet.iter_batches(batch_size=BATCH):
        rows = batch.to_pylist()
        vectors = np.asarray([r.pop("vector") for r in rows], dtype=np.float32)
        for row in rows:
            row["metadata"] = json.loads(row.get("metadata") or "{}")
        yield [Chunk(**r) for r in rows], vectors


def _document_json(document: Document) -> dict[str, Any]:
    return {
        "id": document.id,
        "filename": document.filename,
        "content_hash": document.content_hash,
        "size_bytes": document.size_bytes,
        "chunk_count": document.chunk_count,
        "page_count": document.page_count,
        "uploaded_by": document.uploaded_by,
        "created_at": document.created_at.isoformat(),
        "metadata": document.metadata,
    }


def import_export(
    exported: StoreExport, *, catalog: Catalog, backend: VectorStore, backend_name: str, name: str | None, owner: str
) -> Store:
    """Create a store from an export: its documents get fresh ids (the original store may still exist); all or nothing."""
    spec = exported.store
    store = catalog.create_store(
        name or spec["name"],
        backend=backend_name,
        embedding_model=spec["embedding_model"],
        embedding_dim=int(spec["embedding_dim"]),
        chunk_size=int(spec["chunk_size"]),
        chunk_overlap=int(spec["chunk_overlap"]),
        chunk_strategy=str(spec["chunk_strategy"]),
        owner=owner,
        description=spec.get("description", ""),
    )
    ids = {d["id"]: new_id() for d in exported.documents}
    try:
        backend.create(store.collection, dimension=store.embedding_dim)
        catalog.add_documents(
            [
                Document(
                    id=ids[d["id"]],
                    store_id=store.id,
                    filename=d["filename"],
                    content_hash=d["content_hash"],
                    size_bytes=d["size_bytes"],
                    status=DocumentStatus.PROCESSING,
                    created_at=datetime.fromisoformat(d["created_at"]),
                    uploaded_by=d["uploaded_by"],
                    page_count=d["page_count"],
                    metadata=d.get("metadata") or {},
                )
                for d in exported.documents
            ]
        )
        for chunks, vectors in exported.batches:
            if vectors.shape[1] != store.embedding_dim:
                raise InvalidInput(
                    f"The export holds {vectors.shape[1]}-dimensional vectors, not {store.embedding_dim}."
                )
            backend.add(store.collection, [replace(c, document_id=ids[c.document_id]) for c in chunks], vectors)
        catalog.mark_ready({ids[d["id"]]: d["chunk_count"] for d in exported.documents})
        backend.maintain(store.collection)
    except BaseException:
        backend.drop(store.collection)
        catalog.delete_store(store)
        raise
    return store
