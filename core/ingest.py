"""Parse, chunk, embed and write files into a store, in batches, with all-or-nothing documents."""

from __future__ import annotations

import enum
import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from core import parsing
from core.catalog import Catalog, new_id, now
from core.embedding import Embedder, UsageSink
from core.errors import DISK_FULL, InvalidInput, OverLimit, WorkbenchError, disk_full
from core.options import IngestOptions
from core.parsing.limits import read_file
from core.parsing.options import ParseOptions
from core.records import Chunk, Document, DocumentStatus, IngestResult, IngestStatus, ParsedDocument, Store
from core.redact import redact
from core.stores import VectorStore
from core.windows import windows

log = logging.getLogger(__name__)


class Stage(enum.StrEnum):
    """Where one file is in its ingest."""

    READING = "reading"
    PARSING = "parsing"
    CHUNKING = "chunking"
    EMBEDDING = "embedding"
    WRITING = "writing"
    DONE = "done"
    REPLACED = "replaced"  # done, and it replaced the earlier version
    DUPLICATE = "duplicate"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (Stage.DONE, Stage.REPLACED, Stage.DUPLICATE, Stage.FAILED, Stage.CANCELLED)


@dataclass(frozen=True)
class Progress:
    """One step of an ingest, for a progress bar per file and one overall."""

    file: int  # 0-based position of the file in the upload
    files: int
    filename: str
    stage: Stage
    overall: float  # 0..1 for the whole upload
    batch: int = 0  # with EMBEDDING and WRITING: this file's batch i of n
    batches: int = 0
    detail: str = ""  # the reason of a failure, the chunk count when done

    @property
    def message(self) -> str:
        part = f" (batch {self.batch} of {self.batches})" if self.batches else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.filename}: {self.stage.value}{part}{detail}"


ProgressSink = Callable[[Progress], None]
CancelCheck = Callable[[], bool]


class _Stopped(BaseException):
    """A cancel seen while a file is being read (a BaseException: parsers turn every Exception into a ParseError)."""


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
    first: int = 0  # position of its first chunk in the whole upload's chunk stream (for batch i of n)
    replaces: tuple[str, ...] = ()
    supersedes: tuple[str, ...] = ()  # failed earlier attempts at the same file, dropped once this one is ready
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
        try:  # a 2 GB file is refused from its size, a device or a lying size after max_bytes: never all read
            yield Upload(filename=path.name, data=read_file(path, max_bytes=max_bytes))
        except InvalidInput as exc:
            yield IngestResult(filename=path.name, status=IngestStatus.FAILED, error=str(exc))


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
        self._stop: CancelCheck = lambda: False
        self._over = False  # a store's limit refused a batch: the run stops there, as if cancelled

    def run(
        self,
        uploads: Sequence[Upload | IngestResult],
        *,
        on_progress: ProgressSink | None = None,
        cancelled: CancelCheck | None = None,
    ) -> list[IngestResult]:
        """One result per upload, in order: written, duplicate, failed (with the reason) or cancelled. Whatever stops
        the run (an exception, Ctrl-C, a Streamlit rerun, `cancelled()` turning true, a store's limit), no document is
        left half written: unfinished ones are removed from the catalog and the store."""
        self._progress = _Reporter(on_progress, len(uploads), self.batch_chunks)
        results: dict[int, IngestResult] = {}
        pending: dict[str, _Pending] = {}
        batch = _Batch()
        seen: dict[str, str] = {}
        stream = 0  # chunks handed to batches so far
        stop = self._stop = lambda: self._over or bool(cancelled and cancelled())
        try:
            for index, upload in enumerate(uploads):
                if stop():
                    break
                if isinstance(upload, IngestResult):
                    results[index] = upload
                    self._progress.final(index, upload.filename, upload)
                    continue
                self._progress.step(index, upload.filename, Stage.READING)
                try:
                    outcome = self._prepare(upload, index, seen)
                except _Stopped:  # cancelled between two pages read by OCR
                    break
                if isinstance(outcome, IngestResult):
                    results[index] = outcome
                    self._progress.final(index, upload.filename, outcome)
                    continue
                entry, chunks = outcome
                entry.first, stream = stream, stream + len(chunks)
                pending[entry.document.id] = entry
                filled = self._fill(batch, entry, chunks, results, stop)
                if filled is None:  # cancelled between two batches
                    break
                batch = filled
            else:
                self._flush(batch, results)  # the last, partial batch
        except BaseException:  # Ctrl-C, a Streamlit rerun, a bug: no half document may stay behind
            self._discard([e for e in pending.values() if e.index not in results and e.written < e.total])
            raise
        self._discard([e for e in pending.values() if e.index not in results and e.written < e.total])
        complete = {e.index for e in pending.values() if e.written == e.total}
        for index, upload in enumerate(uploads):
            if index not in results and index not in complete:  # cancelled before it was complete
                results[index] = IngestResult(filename=upload.filename, status=IngestStatus.CANCELLED)
                self._progress.final(index, upload.filename, results[index])
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
        return [results[i] for i in range(len(uploads))]

    def _fill(
        self, batch: _Batch, entry: _Pending, chunks: list[Chunk], results: dict[int, IngestResult], stop: CancelCheck
    ) -> _Batch | None:
        """Add a document's chunks to batches, writing each batch once it is full; None when cancelled."""
        position = 0
        while position < len(chunks):
            room = self.batch_chunks - len(batch.chunks)
            batch.chunks.extend(chunks[position : position + room])
            batch.documents[entry.document.id] = entry
            position += room
            if len(batch.chunks) >= self.batch_chunks:
                if stop():
                    return None
                self._flush(batch, results)
                batch = _Batch()
        return batch

    def _page_read(self, index: int, filename: str, done: int, total: int) -> None:  # OCR: progress, and cancel
        if self._stop():
            raise _Stopped
        self._progress.read[index] = self._progress.share[index] = 0.6 * done / total
        self._progress.step(index, filename, Stage.PARSING, detail=f"read by OCR, page {done} of {total}")

    def _discard(self, entries: Sequence[_Pending]) -> None:
        """Remove unfinished documents from the store and the catalog, as if they had never been sent."""
        if not entries:
            return
        ids = [e.document.id for e in entries]
        try:
            self.backend.delete_documents(self.store.collection, ids)
        finally:
            self.catalog.delete_documents(ids)
        log.info("ingest into %s: %d unfinished documents removed", self.store.name, len(ids))

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
            self._progress.step(index, filename, Stage.PARSING)
            reading = replace(self.options.parse or ParseOptions(), on_page=partial(self._page_read, index, filename))
            parsed = self.parse(filename, upload.data, digest, reading)
            self._progress.step(index, filename, Stage.CHUNKING)
            chunks_of = self.options.chunking_of(filename) or self.chunking
            document_id = new_id()
            chunks = windows(
                parsed,
                document_id=document_id,
                settings=chunks_of,
                token_spans=self.embedder.token_spans,
                window=self.embedder.window_tokens,
                max_chunks=(self.options.parse or ParseOptions()).limits.max_chunks,
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
            notes=parsed.warnings,
        )
        warnings = list(parsed.warnings)
        overflowing = self.embedder.overflowing([c.embedded for c in chunks])
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
        entry = _Pending(
            index=index,
            document=document,
            total=len(chunks),
            replaces=replaces,
            supersedes=tuple(self.catalog.failed_copies(self.store, digest, filename)),
            warnings=tuple(warnings),
        )
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
            error=redact(str(exc)),
        )
        self.catalog.add_documents([document])
        log.info("ingest into %s: %s failed: %s", self.store.name, upload.filename, exc)
        return IngestResult(
            filename=upload.filename, status=IngestStatus.FAILED, document_id=document.id, error=document.error
        )

    def _flush(self, batch: _Batch, results: dict[int, IngestResult]) -> None:
        """Embed and write one batch; documents whose last chunk is in it become ready (and retire what they replace)."""
        entries = [e for e in batch.documents.values() if e.index not in results]  # skip already-failed documents
        live = {e.document.id for e in entries}
        chunks = [c for c in batch.chunks if c.document_id in live]
        if not chunks:
            return
        fresh = [e for e in entries if not e.in_catalog]
        refused = {d.id for d in self.catalog.claim_documents([e.document for e in fresh])}
        for entry in fresh:
            entry.in_catalog = entry.document.id not in refused
            if entry.document.id in refused:  # another ingest took this very file a moment ago
                results[entry.index] = IngestResult(
                    filename=entry.document.filename,
                    status=IngestStatus.DUPLICATE,
                    error=f"same content as a file another upload is adding to '{self.store.name}' right now.",
                )
                self._progress.final(entry.index, entry.document.filename, results[entry.index])
        entries = [e for e in entries if e.document.id not in refused]
        live -= refused
        chunks = [c for c in chunks if c.document_id in live]
        if not chunks:
            return
        try:
            self._progress.batch(entries, Stage.EMBEDDING)
            vectors = self.embedder.embed([c.embedded for c in chunks], on_usage=self.on_usage)
            self._progress.batch(entries, Stage.WRITING)
            self.backend.add(self.store.collection, chunks, vectors)
        except Exception as exc:  # every failure must leave no half document behind
            reason = redact(
                str(exc)
                if isinstance(exc, WorkbenchError)
                else DISK_FULL
                if disk_full(exc)
                else f"writing its chunks failed ({type(exc).__name__}: {exc})"
            )
            log.warning("ingest into %s: batch of %d chunks failed: %s", self.store.name, len(chunks), reason)
            self._over = self._over or isinstance(exc, OverLimit)
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
                self._progress.final(entry.index, entry.document.filename, results[entry.index])
            return
        for c in chunks:
            batch.documents[c.document_id].written += 1
        done = [e for e in entries if e.written == e.total]
        retired = [old for e in done for old in (*e.replaces, *e.supersedes)]
        self.catalog.mark_ready({e.document.id: e.total for e in done}, retire=retired)  # old out as new in, at once
        if retired:
            self.backend.delete_documents(self.store.collection, retired)
        for entry in done:
            stage = Stage.REPLACED if entry.replaces else Stage.DONE
            self._progress.step(entry.index, entry.document.filename, stage, detail=f"{entry.total} chunks")


class _Reporter:
    """Turns the ingest's steps into Progress events; the overall share counts finished files and written batches."""

    def __init__(self, sink: ProgressSink | None, files: int, batch_chunks: int) -> None:
        self.sink = sink
        self.files = max(files, 1)
        self.batch_chunks = batch_chunks
        self.finished: set[int] = set()
        self.share: dict[int, float] = {}  # per unfinished file: how far along it is, 0..1
        self.read: dict[int, float] = {}  # per file: the share its pages read by OCR took

    def step(
        self, index: int, filename: str, stage: Stage, *, detail: str = "", batch: int = 0, batches: int = 0
    ) -> None:
        if stage.final:
            self.finished.add(index)
            self.share.pop(index, None)
        if self.sink is None:
            return
        overall = (len(self.finished) + sum(self.share.values())) / self.files
        self.sink(Progress(index, self.files, filename, stage, min(overall, 1.0), batch, batches, detail))

    def final(self, index: int, filename: str, result: IngestResult) -> None:
        stage = {
            IngestStatus.WRITTEN: Stage.DONE,
            IngestStatus.DUPLICATE: Stage.DUPLICATE,
            IngestStatus.FAILED: Stage.FAILED,
            IngestStatus.CANCELLED: Stage.CANCELLED,
        }[result.status]
        self.step(index, filename, stage, detail=result.error or "")

    def batch(self, entries: Sequence[_Pending], stage: Stage) -> None:
        """This batch's place in each of its documents: batch i of n, counted from where the document starts."""
        for entry in entries:
            first_batch = entry.first // self.batch_chunks
            last_batch = (entry.first + entry.total - 1) // self.batch_chunks
            current = (entry.first + entry.written) // self.batch_chunks
            number, count = current - first_batch + 1, last_batch - first_batch + 1
            base = self.read.get(entry.index, 0.0)  # a scan's pages read by OCR came first
            self.share[entry.index] = (
                base + (1 - base) * (number - (0.5 if stage is Stage.EMBEDDING else 0.0)) / count * 0.95
            )
            self.step(entry.index, entry.document.filename, stage, batch=number, batches=count)
