"""Parse, chunk, embed and write files into a store, in batches, with all-or-nothing documents."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core import parsing
from core.catalog import Catalog, new_id, now
from core.chunking import chunk_document
from core.embedding import Embedder, UsageSink
from core.errors import InvalidInput, WorkbenchError
from core.records import Chunk, Document, DocumentStatus, IngestResult, IngestStatus, Store
from core.stores import VectorStore

log = logging.getLogger(__name__)

ProgressSink = Callable[[float, str], None]


@dataclass(frozen=True)
class Upload:
    """A file to ingest: its name (for type and display) and its bytes."""

    filename: str
    data: bytes


@dataclass
class _Pending:
    """A document whose chunks are being embedded and written."""

    index: int
    document: Document
    total: int
    written: int = 0
    in_catalog: bool = False
    warnings: tuple[str, ...] = ()


@dataclass
class _Batch:
    chunks: list[Chunk] = field(default_factory=list)
    documents: dict[str, _Pending] = field(default_factory=dict)


def read_uploads(paths: Iterable[Path]) -> Iterable[Upload | IngestResult]:
    """Uploads from paths (folders are walked); an unreadable path yields its failed result instead."""
    for path in paths:
        if path.is_dir():
            yield from read_uploads(sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")))
            continue
        try:
            yield Upload(filename=path.name, data=path.read_bytes())
        except OSError as exc:
            reason = "it does not exist" if isinstance(exc, FileNotFoundError) else exc.strerror or str(exc)
            yield IngestResult(
                filename=str(path), status=IngestStatus.FAILED, error=f"{path} could not be read: {reason}."
            )


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
        on_usage: UsageSink | None = None,
    ) -> None:
        self.catalog = catalog
        self.backend = backend
        self.embedder = embedder
        self.store = store
        self.user = user
        self.batch_chunks = batch_chunks
        self.max_bytes = max_bytes
        self.on_usage = on_usage

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
                on_progress(index / max(len(uploads), 1), f"Reading {_name(upload)}")
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
            return self._failed(
                upload,
                "",
                InvalidInput(
                    f"{filename} is {len(upload.data) / 2**20:.0f} MB, over the {self.max_bytes / 2**20:.0f} MB upload limit."
                ),
            )
        content_hash = hashlib.sha256(upload.data).hexdigest()
        existing = self.catalog.find_by_hash(self.store, content_hash)
        twin = existing.filename if existing else seen.get(content_hash)
        if twin is not None:
            return IngestResult(
                filename=filename,
                status=IngestStatus.DUPLICATE,
                document_id=existing.id if existing else None,
                error=f"same content as {twin}, already in '{self.store.name}'.",
            )
        seen[content_hash] = filename
        try:
            parsed = parsing.parse(filename, upload.data)
        except WorkbenchError as exc:
            return self._failed(upload, content_hash, exc)
        document = Document(
            id=new_id(),
            store_id=self.store.id,
            filename=filename,
            content_hash=content_hash,
            size_bytes=len(upload.data),
            status=DocumentStatus.PROCESSING,
            created_at=now(),
            uploaded_by=self.user,
            page_count=parsed.page_count,
        )
        chunks = chunk_document(
            parsed, document_id=document.id, size=self.store.chunk_size, overlap=self.store.chunk_overlap
        )
        if not chunks:
            return self._failed(upload, content_hash, InvalidInput(f"{filename} contains no text to index."))
        warnings = list(parsed.warnings)
        overflowing = self.embedder.overflowing([c.text for c in chunks])
        if overflowing:
            warnings.append(
                f"{overflowing} chunks are longer than the embedding model's {self.embedder.window_tokens}-token window; "
                "their ends are not embedded (choose a smaller chunk size)."
            )
        return _Pending(index=index, document=document, total=len(chunks), warnings=tuple(warnings)), chunks

    def _failed(self, upload: Upload, content_hash: str, exc: WorkbenchError) -> IngestResult:
        document = Document(
            id=new_id(),
            store_id=self.store.id,
            filename=upload.filename,
            content_hash=content_hash,
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
        """Embed and write one batch; documents whose last chunk is in it become ready."""
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
            vectors = self.embedder.embed([c.text for c in chunks], on_usage=self.on_usage)
            self.backend.add(self.store.collection, chunks, vectors)
        except Exception as exc:
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
        done = {e.document.id: e.total for e in entries if e.written == e.total and e.index not in results}
        self.catalog.mark_ready(done)


def _name(upload: Upload | IngestResult) -> str:
    return upload.filename
