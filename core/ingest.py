"""Parse, chunk, embed and write files into a store, in batches, with all-or-nothing documents."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from core import parsing
from core.catalog import Catalog, new_id, now
from core.chunking import ChunkSettings, chunk_document
from core.embedding import Embedder, UsageSink
from core.errors import InvalidInput, WorkbenchError
from core.parsing.options import ParseOptions
from core.records import Chunk, Document, DocumentStatus, IngestResult, IngestStatus, ParsedDocument, Store
from core.stores import VectorStore

log = logging.getLogger(__name__)

ProgressSink = Callable[[float, str], None]


@dataclass(frozen=True)
class Upload:
    """A file to ingest: its name (for type and display) and its bytes."""

    filename: str
    data: bytes


@dataclass(frozen=True)
class IngestOptions:
    """Per-upload choices over the store's defaults."""

    chunking: ChunkSettings | None = None
    replace: bool = False  # a new version of a file with the same name replaces the old one
    metadata: Mapping[str, str] = field(default_factory=dict)  # stored on every document, usable in filters
    parse: ParseOptions = field(default_factory=ParseOptions)


@dataclass
class _Pending:
    """A document whose chunks are being embedded and written."""

    index: int
    document: Document
    total: int
    replaces: tuple[str, ...] = ()
    written: int = 0
    in_catalog: bool = False
    warnings: tuple[str, ...] = ()


@dataclass
class _Batch:
    chunks: list[Chunk] = field(default_factory=list)
    documents: dict[str, _Pending] = field(default_factory=dict)


def read_uploads(paths: Iterable[Path], *, max_bytes: int) -> Iterable[Upload | IngestResult]:
    """Uploads from paths (folders are walked); an unreadable or oversized file yields its failed result instead."""
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            yield from read_uploads(inside, max_bytes=max_bytes)
            continue
        try:
            size = path.stat().st_size
            if size > max_bytes:  # refused from its size alone: a 2 GB file is never read into memory
                error = f"{path.name} is {size / 2**20:,.0f} MB, over the {max_bytes / 2**20:,.0f} MB upload limit."
                yield IngestResult(filename=path.name, status=IngestStatus.FAILED, error=error)
                continue
            yield Upload(filename=path.name, data=path.read_bytes())
        except OSError as exc:
            reason = "it does not exist" if isinstance(exc, FileNotFoundError) else exc.strerror or str(exc)
            yield IngestResult(
                filename=str(path), status=IngestStatus.FAILED, error=f"{path} could not be read: {reason}."
            )


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Ingestor:
    """Ingests many files into one store; one bad file never stops the others."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        backend: VectorStore,
        embedder: Embedder,
        store: Store,
        user: str,
        batch_chunks: int,
        max_bytes: int,
        options: IngestOptions,
        on_usage: UsageSink | None = None,
        parse: Callable[[str, bytes, str, ParseOptions], ParsedDocument] | None = None,
    ) -> None:
        self.catalog = catalog
        self.backend = backend
        self.embedder = embedder
        self.store = store
        self.user = user
        self.batch_chunks = batch_chunks
        self.max_bytes = max_bytes
        self.options = options
        self.chunking = options.chunking or store.chunking
        self.on_usage = on_usage
        self.parse = parse or (lambda name, data, _hash, opts: parsing.parse(name, data, opts))

    def run(
        self, uploads: Sequence[Upload | IngestResult], *, on_progress: ProgressSink | None = None
    ) -> list[IngestResult]:
        """One result per upload, in order: written (with chunk count), duplicate, or failed (with the reason)."""
        results: dict[int, IngestResult] = {}
        pending: dict[str, _Pending] = {}
        batch = _Batch()
        seen: dict[str, str] = {}
        for index, upload in enumerate(uploads):
            if on_progress is not None:
                on_progress(index / max(len(uploads), 1), f"Reading {upload.filename}")
            if isinstance(upload, IngestResult):
                results[index] = upload
                continue
            outcome = self._prepare(upload, index, seen)
            if isinstance(outcome, IngestResult):
                results[index] = outcome
                continue
            entry, chunks = outcome
            pending[entry.document.id] = entry
            position = 0
            while position < len(chunks):
                room = self.batch_chunks - len(batch.chunks)
                batch.chunks.extend(chunks[position : position + room])
                batch.documents[entry.document.id] = entry
                position += room
                if len(batch.chunks) >= self.batch_chunks:
                    if on_progress is not None:
                        on_progress(index / max(len(uploads), 1), f"Embedding {len(batch.chunks)} chunks")
                    self._flush(batch, results)
                    batch = _Batch()
        self._flush(batch, results)
        for entry in pending.values():
            results.setdefault(
                entry.index,
                IngestResult(
                    filename=entry.document.filename,
                    status=IngestStatus.WRITTEN,
                    chunks=entry.total,
                    pages=entry.document.page_count,
                    document_id=entry.document.id,
                    warnings=entry.warnings,
                ),
            )
        if on_progress is not None:
            on_progress(1.0, "Done")
        return [results[i] for i in range(len(uploads))]

    def _prepare(self, upload: Upload, index: int, seen: dict[str, str]) -> tuple[_Pending, list[Chunk]] | IngestResult:
        """Check, parse and chunk one file; a failure becomes a failed document in the catalog."""
        filename = upload.filename
        if len(upload.data) > self.max_bytes:
            too_big = InvalidInput(
                f"{filename} is {len(upload.data) / 2**20:,.0f} MB, over the {self.max_bytes / 2**20:,.0f} MB upload limit."
            )
            return self._failed(upload, "", too_big)
        digest = content_hash(upload.data)
        existing = self.catalog.find_by_hash(self.store, digest)
        twin = existing.filename if existing else seen.get(digest)
        if twin is not None:
            return IngestResult(
                filename=filename,
                status=IngestStatus.DUPLICATE,
                document_id=existing.id if existing else None,
                error=f"same content as {twin}, already in '{self.store.name}'.",
            )
        seen[digest] = filename
        try:
            parsed = self.parse(filename, upload.data, digest, self.options.parse)
            chunks_of = self.chunking
            document_id = new_id()
            chunks = chunk_document(
                parsed, document_id=document_id, settings=chunks_of, token_spans=self.embedder.token_spans
            )
            if self.options.metadata:
                chunks = [replace(c, metadata=dict(self.options.metadata)) for c in chunks]
        except WorkbenchError as exc:
            return self._failed(upload, digest, exc)
        document = Document(
            id=document_id,
            store_id=self.store.id,
            filename=filename,
            content_hash=digest,
            size_bytes=len(upload.data),
            status=DocumentStatus.PROCESSING,
            created_at=now(),
            uploaded_by=self.user,
            page_count=parsed.page_count,
            metadata=dict(self.options.metadata),
        )
        warnings = list(parsed.warnings)
        overflowing = self.embedder.overflowing([c.content for c in chunks])
        if overflowing:
            warnings.append(
                f"{overflowing} chunks are longer than the embedding model's {self.embedder.window_tokens}-token window; "
                "their ends are not embedded (choose a smaller chunk size)."
            )
        namesakes = tuple(d.id for d in self.catalog.find_by_name(self.store, filename))
        if namesakes and not self.options.replace:
            warnings.append(f"'{self.store.name}' already had a document named {filename}; both versions are kept.")
        replaces = namesakes if self.options.replace else ()
        if replaces:
            warnings.append(f"Replaces the earlier version of {filename}.")
        entry = _Pending(index=index, document=document, total=len(chunks), replaces=replaces, warnings=tuple(warnings))
        return entry, chunks

    def _failed(self, upload: Upload, digest: str, exc: WorkbenchError) -> IngestResult:
        document = Document(
            id=new_id(),
            store_id=self.store.id,
            filename=upload.filename,
            content_hash=digest,
            size_bytes=len(upload.data),
            status=DocumentStatus.FAILED,
            created_at=now(),
            uploaded_by=self.user,
            error=str(exc),
        )
        self.catalog.add_documents([document])
        log.info("ingest into %s: %s failed: %s", self.store.name, upload.filename, exc)
        return IngestResult(
            filename=upload.filename, status=IngestStatus.FAILED, document_id=document.id, error=str(exc)
        )

    def _flush(self, batch: _Batch, results: dict[int, IngestResult]) -> None:
        """Embed and write one batch; documents whose last chunk is in it become ready (and retire what they replace)."""
        entries = [e for e in batch.documents.values() if e.index not in results]  # skip already-failed documents
        live = {e.document.id for e in entries}
        chunks = [c for c in batch.chunks if c.document_id in live]
        if not chunks:
            return
        fresh = [e for e in entries if not e.in_catalog]
        self.catalog.add_documents([e.document for e in fresh])
        for entry in fresh:
            entry.in_catalog = True
        try:
            vectors = self.embedder.embed([c.content for c in chunks], on_usage=self.on_usage)
            self.backend.add(self.store.collection, chunks, vectors)
        except Exception as exc:  # every failure must leave no half document behind
            reason = (
                str(exc)
                if isinstance(exc, WorkbenchError)
                else f"writing its chunks failed ({type(exc).__name__}: {exc})"
            )
            log.warning("ingest into %s: batch of %d chunks failed: %s", self.store.name, len(chunks), reason)
            ids = [e.document.id for e in entries]
            try:
                self.backend.delete_documents(self.store.collection, ids)
            finally:
                self.catalog.mark_failed(ids, reason)
            for entry in entries:
                results[entry.index] = IngestResult(
                    filename=entry.document.filename,
                    status=IngestStatus.FAILED,
                    document_id=entry.document.id,
                    error=f"{entry.document.filename}: {reason}",
                )
            return
        for c in chunks:
            batch.documents[c.document_id].written += 1
        done = [e for e in entries if e.written == e.total]
        retired = [old for e in done for old in e.replaces]
        # one transaction: the new versions become visible exactly when the old ones disappear
        self.catalog.mark_ready({e.document.id: e.total for e in done}, retire=retired)
        if retired:
            self.backend.delete_documents(self.store.collection, retired)
