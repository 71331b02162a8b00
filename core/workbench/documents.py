"""Documents: preview a file, ingest files into a store, list a store's documents and chunks, disable or edit a
chunk, delete a document."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from core import llm, parsing
from core.access import Action
from core.errors import InvalidInput, NotFound, StoreNotFound, WorkbenchError
from core.ingest import CancelCheck, Ingestor, ProgressSink, Upload, content_hash, read_uploads
from core.options import ChunkSettings, IngestOptions
from core.parsing.options import ParseOptions, check_ocr
from core.preview import Preview, preview
from core.records import Actor, Channel, Chunk, ChunkChange, Document, DocumentStatus, IngestResult, IngestStatus, Store
from core.workbench.services import Services

log = logging.getLogger(__name__)

MAX_PER_PAGE = 500
MAX_NAMES = 1000  # document names a search filter offers (the newest; a store may hold a hundred thousand)


@dataclass(frozen=True)
class DocumentPage:
    """A page of a store's documents and where it sits among those that match."""

    documents: tuple[Document, ...]
    matching: int
    page: int
    pages: int


MAX_CHUNK_EDIT = 20_000  # characters: an edited chunk stays a passage, not a document
PREVIEW_OCR_PAGES = 20  # scanned pages a preview or a check reads (about 25 s); the upload reads them all, page by page


class Documents:
    def __init__(self, services: Services) -> None:
        self._s = services
        self._catalog = services.catalog

    def of(self, actor: Actor, store: str, *, ids: Sequence[str] | None = None) -> list[Document]:
        """The store's documents, oldest first, in every status; `ids`: only those (read as such)."""
        found = self._s.store(actor, store)
        if ids is not None:
            return sorted(self._catalog.documents_by_id(found, ids).values(), key=lambda d: d.created_at)
        return self._catalog.list_documents(found)

    def page(
        self,
        actor: Actor,
        store: str,
        *,
        find: str = "",
        extensions: Sequence[str] = (),
        statuses: Sequence[DocumentStatus] = (),
        noted: str = "",
        page: int = 1,
        per_page: int = 50,
    ) -> DocumentPage:
        """One page of the store's documents, newest first, filtered by name, type, status and a note's words ("Read
        by OCR"): the Documents page (what it reads follows the page, not the store)."""
        found = self._s.store(actor, store)
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise InvalidInput(f"Show between 1 and {MAX_PER_PAGE} documents a page, not {per_page}.")
        shown, matching = self._catalog.document_page(
            found,
            find=find,
            extensions=extensions,
            statuses=statuses,
            noted=noted,
            offset=(max(1, page) - 1) * per_page,
            limit=per_page,
        )
        pages = max(1, -(-matching // per_page))
        if page > pages and matching:  # the filter narrowed meanwhile: its last page
            return self.page(
                actor,
                store,
                find=find,
                extensions=extensions,
                statuses=statuses,
                noted=noted,
                page=pages,
                per_page=per_page,
            )
        return DocumentPage(tuple(shown), matching=matching, page=max(1, min(page, pages)), pages=pages)

    def names(self, actor: Actor, stores: Sequence[str], *, limit: int = MAX_NAMES) -> list[str]:
        """The names of the stores' newest ready documents (a search filter's choices), at most `limit`."""
        found = self._s.stores(actor, stores) if stores else []
        return self._catalog.newest_names(found, limit=limit) if found else []

    def chunks(self, actor: Actor, store: str, document_id: str) -> list[Chunk]:
        """One document's chunks with their locations, in order (the document viewer)."""
        found = self._s.store(actor, store)
        if not self._catalog.documents_by_id(found, [document_id]):
            raise NotFound(f"'{store}' has no such document; it may have been deleted.")
        return self._s.backend(found.backend).document_chunks(found.collection, document_id)

    def chunk(self, actor: Actor, store: str, document_id: str, chunk_index: int) -> Chunk:
        """One chunk of a ready document (what a citation or a search result points at). A program (the API, an
        agent through MCP) is refused a chunk its store's injection check withholds, as its searches never return it."""
        found = self._s.store(actor, store)
        chunk = self._one_chunk(found, document_id, chunk_index)
        if actor.channel in (Channel.API, Channel.MCP):
            self._s.governance.readable(actor, found, chunk)
        return chunk

    def changes(self, actor: Actor, store: str, document_id: str) -> dict[int, ChunkChange]:
        """Which of a document's chunks editors disabled or edited, and who did it last, by chunk index."""
        return self._catalog.chunk_changes(self._s.store(actor, store), document_id)

    def set_chunk_enabled(
        self, actor: Actor, store: str, document_id: str, chunk_index: int, *, enabled: bool
    ) -> ChunkChange:
        """Disable a chunk (searches and chat never retrieve it) or enable it again (editors and owners)."""
        found = self._s.store(actor, store, Action.EDIT)
        self._one_chunk(found, document_id, chunk_index)
        change = self._catalog.record_chunk_change(found, document_id, chunk_index, by=actor.name, disabled=not enabled)
        log.info(
            "%s %s chunk %d of %s in %s",
            actor.name,
            "enabled" if enabled else "disabled",
            chunk_index,
            document_id,
            found.name,
        )
        return change

    def edit_chunk(self, actor: Actor, store: str, document_id: str, chunk_index: int, text: str) -> Chunk:
        """Replace a chunk's text and embed it again (editors and owners); its place and context stay."""
        found = self._s.store(actor, store, Action.EDIT)
        chunk = self._one_chunk(found, document_id, chunk_index)
        text = text.strip()
        if not text:
            raise InvalidInput("A chunk cannot be empty; disable it instead, so that it is no longer retrieved.")
        if len(text) > MAX_CHUNK_EDIT:
            raise InvalidInput(f"A chunk holds at most {MAX_CHUNK_EDIT:,} characters; this text has {len(text):,}.")
        edited = replace(chunk, text=text)
        embedder = self._s.embedder(found.embedding_model)
        with self._s.privacy([found]):
            vectors = embedder.embed([edited.embedded], on_usage=self._s.embedding_usage(actor, embedder, found))
        self._s.backend(found.backend).upsert(found.collection, [edited], vectors)
        self._catalog.record_chunk_change(found, document_id, chunk_index, by=actor.name, edited=True)
        return edited

    def _one_chunk(self, store: Store, document_id: str, chunk_index: int) -> Chunk:
        if not self._catalog.ready_ids(store, [document_id]):
            raise NotFound(f"'{store.name}' has no such document; it may have been deleted.")
        chunks = self._s.backend(store.backend).document_chunks(store.collection, document_id)
        found = next((c for c in chunks if c.chunk_index == chunk_index), None)
        if found is None:
            raise NotFound(f"The document has no chunk {chunk_index + 1}; it may have been replaced.")
        return found

    def delete(self, actor: Actor, store: str, document_id: str) -> None:
        """Remove one document and its chunks (editors and owners)."""
        found = self._s.store(actor, store, Action.EDIT)
        if not self._catalog.documents_by_id(found, [document_id]):
            raise NotFound(f"'{store}' has no such document; it may have been deleted already.")
        self._s.backend(found.backend).delete_documents(found.collection, [document_id])
        self._catalog.delete_document(document_id)
        self._s.originals.forget(found.id, [document_id])

    def page_image(self, actor: Actor, store: str, document_id: str, page: int, *, passage: str = "") -> bytes | None:
        """A PDF document's page as a PNG, the passage outlined where it is found; None for other formats."""
        found = self._s.store(actor, store)
        if not self._catalog.ready_ids(found, [document_id]):  # one indexed lookup: drawn for every cited page
            raise NotFound(f"'{store}' has no such document; it may have been deleted.")
        return self._s.originals.page_png(found.id, document_id, page, passage)

    def parse_options(
        self,
        actor: Actor,
        store: str | None,
        *,
        vision_model: str | None = None,
        vision_prompt: str | None = None,
        ocr: str | None = None,
    ) -> ParseOptions:
        """Parsing choices from the settings, with this upload's overrides; vision calls are recorded as usage."""
        into = [self._s.store(actor, store, Action.EDIT)] if store is not None else []
        return self._parse_options(actor, into, vision_model=vision_model, vision_prompt=vision_prompt, ocr=ocr)

    def _parse_options(
        self,
        actor: Actor,
        into: Sequence[Store],
        *,
        vision_model: str | None = None,
        vision_prompt: str | None = None,
        ocr: str | None = None,
    ) -> ParseOptions:
        usage = self._s.usage(actor, "vision", into)

        def record(model: str, outcome: llm.CompletionResponse | Exception) -> None:
            failed = isinstance(outcome, Exception)
            usage.record(None if failed else outcome, error=str(outcome) if failed else None, model=model)

        settings = self._s.settings
        if ocr:
            check_ocr(ocr)
        chosen = self._s.default_model("vision") if vision_model is None else vision_model
        if vision_model:
            self._s.permitted("vision", vision_model)
        target, params = self._s.models.resolve(chosen) if chosen else ("", {})
        return ParseOptions(
            vision_model=target,
            vision_params=params,
            vision_prompt=vision_prompt or settings.vision_prompt,
            max_unzipped_bytes=settings.max_unzipped_mb * 2**20,
            max_zip_ratio=settings.max_zip_ratio,
            limits=settings.limits,
            on_usage=record,
            ocr=ocr or next((s.ocr for s in into if s.ocr), settings.ocr),  # this upload's, the store's, the server's
        )

    def preview(
        self,
        actor: Actor,
        filename: str,
        data: bytes,
        *,
        chunking: ChunkSettings,
        embedding: str | None = None,
        vision_model: str | None = None,
        vision_prompt: str | None = None,
        ocr: str | None = None,
    ) -> Preview:
        """What ingest would make of a file with these settings; nothing is embedded or written."""
        return preview(
            filename,
            data,
            settings=chunking,
            embedder=self._s.embedder(embedding or self._s.settings.default_embedding),
            options=replace(
                self._parse_options(actor, [], vision_model=vision_model, vision_prompt=vision_prompt, ocr=ocr),
                ocr_first=PREVIEW_OCR_PAGES,
            ),
            cache=self._s.parse_cache,
            max_bytes=self._s.settings.max_upload_bytes,
        )

    def check(self, actor: Actor, filename: str, data: bytes, *, ocr: str | None = None) -> str | None:
        """Why a file would fail to go in (refused type, too big, damaged, no text), or None: it is parsed once and
        kept in the parse cache, so the ingest that follows does not parse it again."""
        if reason := parsing.refusal(filename):
            return reason
        if len(data) > self._s.settings.max_upload_bytes:
            limit = self._s.settings.max_upload_bytes / 2**20
            return f"{filename} is {len(data) / 2**20:,.0f} MB, over the {limit:,.0f} MB upload limit."
        try:
            options = replace(self._parse_options(actor, [], ocr=ocr), ocr_first=PREVIEW_OCR_PAGES)
            self._s.parse_cache.parse(filename, data, content_hash(data), options)
        except WorkbenchError as exc:
            return str(exc)
        return None

    def ingest(
        self,
        actor: Actor,
        store: str,
        uploads: Sequence[Upload | IngestResult],
        *,
        options: IngestOptions | None = None,
        on_progress: ProgressSink | None = None,
        cancelled: CancelCheck | None = None,
    ) -> list[IngestResult]:
        """Write files into a store: one result per upload; progress events as it goes; `cancelled()` is
        checked between files and batches. Interrupted or cancelled, it leaves no half document."""
        found = self._s.store(actor, store, Action.EDIT)
        self._s.tidy()  # what an earlier ingest gave up half-written goes first (a catalog outage)
        embedder = self._s.embedder(found.embedding_model)
        options = options or IngestOptions()
        if options.parse is None:  # the configured parse options (vision model, zip limits, usage records)
            options = replace(options, parse=self._parse_options(actor, [found]))
        backend = self._s.backend(found.backend)
        backend.count(found.collection)  # connect first: a backend out of reach is said now, not after the embedding
        cache = self._s.parse_cache
        ingestor = Ingestor(
            catalog=self._catalog,
            backend=backend,
            embedder=embedder,
            store=found,
            user=actor.name,
            batch_chunks=self._s.settings.ingest_batch_chunks,
            max_bytes=self._s.settings.max_upload_bytes,
            options=options,
            on_usage=self._s.embedding_usage(actor, embedder, found),
            parse=lambda filename, data, digest, opts: cache.parse(filename, data, digest, opts, remember=False)[0],
        )
        try:
            with self._s.governance.governed(actor, [found], upload=True):  # redaction, the upload's token limits
                results = ingestor.run(uploads, on_progress=on_progress, cancelled=cancelled)
        except WorkbenchError:
            try:
                self._catalog.get_store_by_id(found.id)
            except NotFound:  # the store went while its files came in: say that, not what broke because of it
                raise StoreNotFound(f"'{found.name}' was deleted while files were being added to it.") from None
            raise
        written = [r for r in results if r.status is IngestStatus.WRITTEN]
        files = {u.filename: u.data for u in uploads if isinstance(u, Upload)}
        for result in written:
            if result.document_id and result.filename in files:
                self._s.originals.keep(found.id, result.document_id, result.filename, files[result.filename])
        if written:
            self._s.usage(actor, "ingest", [found], found.embedding_model).ingested(
                documents=len(written), pages=sum(r.pages or 0 for r in written), chunks=sum(r.chunks for r in written)
            )
            self._s.maintenance.request(found)  # the indexes take the new rows in the background (or now, on the CLI)
        return results

    def ingest_paths(
        self,
        actor: Actor,
        store: str,
        paths: Sequence[Path],
        *,
        options: IngestOptions | None = None,
        on_progress: ProgressSink | None = None,
        cancelled: CancelCheck | None = None,
    ) -> list[IngestResult]:
        """Ingest files from this machine's disk: for the command line, never for a page."""
        self._s.store(actor, store, Action.EDIT)  # fail fast, before reading any file
        uploads = list(read_uploads(paths, max_bytes=self._s.settings.max_upload_bytes))
        return self.ingest(actor, store, uploads, options=options, on_progress=on_progress, cancelled=cancelled)
