"""The composition root: settings, catalog, backends and models, and the product's operations on them.

The CLI and the Streamlit pages call this and nothing below it. Every operation names the acting
user; `None` means the built-in admin.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path

from core import llm, rag
from core.catalog import Catalog, new_id
from core.chunking import ChunkSettings
from core.config import Settings, load_settings
from core.embedding import Embedder, UsageSink, get_embedder
from core.errors import InvalidInput, ModelError, NotFound, PermissionDenied
from core.ingest import IngestOptions, Ingestor, ProgressSink, Upload, read_uploads
from core.models import ModelRegistry
from core.parsing.options import ParseOptions
from core.preview import ParseCache, Preview, preview
from core.rag import Answer, AskOptions
from core.records import Document, DocumentStatus, Grant, Hit, IngestResult, IngestStatus, Role, Store, UsageEvent, User
from core.rerank import rerank_scores
from core.retrieval import Reranker, SearchOptions, Target, check_embedding
from core.retrieval import search as retrieval_search
from core.stores import VectorStore, open_backend
from core.transfer import ExportSummary, export_store, read_export

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoreSummary:
    store: Store
    documents: int
    chunks: int
    role: Role


class Workbench:
    """One per process; shared by every session of the app (it holds no per-user state)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self.catalog = Catalog(self.settings.database_url)
        self.catalog.ensure_user(self.settings.admin_user, is_admin=True)
        self._backends: dict[str, VectorStore] = {}
        self._lock = threading.Lock()
        self.parse_cache = ParseCache()
        self.models = ModelRegistry.load(self.settings.models_file)
        self._embedders: dict[str, Embedder] = {}

    # plumbing

    def backend(self, name: str) -> VectorStore:
        with self._lock:
            if name not in self._backends:
                self._backends[name] = open_backend(name, self.settings)
            return self._backends[name]

    def embedder(self, name: str) -> Embedder:
        """The embedder for a model-list name or a LiteLLM model string (bundled models load once per process)."""
        model, params = self.models.resolve(name)
        if model == name and not params:
            return get_embedder(name)
        with self._lock:
            if name not in self._embedders:
                self._embedders[name] = Embedder(name, target=model, params=params)
            return self._embedders[name]

    def user(self, name: str | None) -> User:
        return self.catalog.get_user(name or self.settings.admin_user)

    def _on_usage(self, embedder: Embedder, *, user: str, store: str) -> UsageSink:
        """Record each embedding call as a usage event of the user on the store."""

        def record(response: llm.EmbeddingResponse) -> None:
            self.catalog.record_usage(
                UsageEvent(
                    kind="embedding",
                    user=user,
                    store=store,
                    model=embedder.model,
                    prompt_tokens=response.prompt_tokens,
                    cost=response.cost,
                    latency_ms=response.latency_ms,
                    ok=response.error is None,
                    error=response.error,
                )
            )

        return record

    # users and grants

    def add_user(self, name: str, *, admin: bool = False, acting: str | None = None) -> User:
        self._require_admin(acting)
        return self.catalog.add_user(name, is_admin=admin)

    def grant(self, store_name: str, user_name: str, role: Role, *, acting: str | None = None) -> Grant:
        store = self.store(store_name, user=acting, role=Role.OWNER)
        return self.catalog.grant(store, user_name, role)

    def _require_admin(self, acting: str | None) -> None:
        if not self.user(acting).is_admin:
            raise PermissionDenied("Only an administrator can manage users.")

    # stores

    def create_store(
        self,
        name: str,
        *,
        user: str | None = None,
        backend: str | None = None,
        embedding: str | None = None,
        chunking: ChunkSettings | None = None,
        description: str = "",
    ) -> Store:
        owner = self.user(user)
        backend_name = backend or self.settings.default_backend
        vectors = self.backend(backend_name)
        embedder = self.embedder(embedding or self.settings.default_embedding)
        chunking = chunking or self.settings.chunking
        store = self.catalog.create_store(
            name,
            backend=backend_name,
            embedding_model=embedder.model,
            embedding_dim=embedder.dimension,
            chunk_size=chunking.size,
            chunk_overlap=chunking.overlap,
            chunk_strategy=chunking.strategy.value,
            owner=owner.name,
            description=description,
        )
        try:
            vectors.create(store.collection, dimension=store.embedding_dim)
        except Exception:
            self.catalog.delete_store(store)
            raise
        log.info("created store %s (%s, %s)", name, backend_name, embedder.model)
        return store

    def store(self, name: str, *, user: str | None = None, role: Role = Role.READ) -> Store:
        """The store if the user may act on it with `role`; a store the user may not see does not exist for them."""
        store = self.catalog.get_store(name)
        have = self.catalog.role_of(self.user(user), store)
        if have is None:
            raise NotFound(f"There is no store named '{name}'. Run `python -m core store list` to see the stores.")
        if have.rank < role.rank:
            raise PermissionDenied(f"You may only {have.value} '{name}'; ask its owner for {role.value} access.")
        return store

    def list_stores(self, *, user: str | None = None) -> list[StoreSummary]:
        acting = self.user(user)
        summaries = []
        for store in self.catalog.list_stores():
            role = self.catalog.role_of(acting, store)
            if role is not None:
                documents, chunks = self.catalog.store_stats(store)
                summaries.append(StoreSummary(store=store, documents=documents, chunks=chunks, role=role))
        return summaries

    def delete_store(self, name: str, *, user: str | None = None) -> None:
        store = self.store(name, user=user, role=Role.OWNER)
        self.backend(store.backend).drop(store.collection)
        self.catalog.delete_store(store)
        log.info("deleted store %s", name)

    def ask(
        self, names: str | Sequence[str], question: str, *, user: str | None = None, options: AskOptions | None = None
    ) -> tuple[Iterator[str], Answer]:
        """Stream an answer from the stores' documents; the Answer is complete once the stream is exhausted.

        Follow-up questions are first rewritten into a standalone search query from the chat history;
        the question and the answer (with its citations) are added to the user's history on these stores.
        """
        acting = self.user(user)
        if not question.strip():
            raise InvalidInput("Type a question.")
        wanted = self.store_names(names)
        for name in wanted:
            self.store(name, user=acting.name)
        key = ",".join(wanted)
        options = options or AskOptions()
        model_name = options.model or self.settings.chat_model
        model, params = self.models.resolve(model_name)
        history = self.catalog.history(user=acting.name, stores=key)
        answer = Answer(question=question, model=model_name)

        def record(response: llm.CompletionResponse | None, error: str | None = None) -> None:
            self.catalog.record_usage(
                UsageEvent(
                    kind="chat",
                    user=acting.name,
                    store=key,
                    model=model_name,
                    prompt_tokens=response.prompt_tokens if response else 0,
                    completion_tokens=response.completion_tokens if response else 0,
                    cost=response.cost if response else 0.0,
                    latency_ms=response.latency_ms if response else 0.0,
                    ok=error is None,
                    error=error,
                )
            )

        def run() -> Iterator[str]:
            query = question
            if history:
                try:
                    reply = llm.complete(
                        model,
                        rag.condense_messages(question, history),
                        params={**params, "temperature": 0, "max_tokens": 64},
                    )
                except ModelError as exc:
                    record(None, error=str(exc))
                    raise
                record(reply)
                query = rag.clean_query(reply.text, question, history)
            answer.query = query
            started = time.perf_counter()
            hits = self.search(wanted, query, user=acting.name, options=options.search)
            answer.retrieval_ms = (time.perf_counter() - started) * 1000
            answer.retrieved = rag.sources(hits)
            if not hits and options.refuse_without_sources:
                answer.text, answer.refused = rag.NO_SOURCES.format(stores=", ".join(wanted)), True
                yield answer.text
            else:
                messages = rag.build_messages(
                    question,
                    hits,
                    system_prompt=options.system_prompt,
                    history=history,
                    window_tokens=llm.context_window(model),
                    max_tokens=options.max_tokens,
                )
                done: list[llm.CompletionResponse] = []
                call = {**params, "temperature": options.temperature, "max_tokens": options.max_tokens}
                try:
                    yield from rag.drop_unknown_citations(
                        llm.stream_chat(model, messages, params=call, on_done=done.append), len(hits)
                    )
                except ModelError as exc:
                    record(None, error=str(exc))
                    raise
                record(done[0])
                answer.text, answer.citations = rag.cite(done[0].text, hits, question=question)
                answer.prompt_tokens, answer.completion_tokens = done[0].prompt_tokens, done[0].completion_tokens
                answer.cost, answer.latency_ms = done[0].cost, done[0].latency_ms
            self.catalog.add_message(user=acting.name, stores=key, role="user", content=question)
            self.catalog.add_message(
                user=acting.name,
                stores=key,
                role="assistant",
                content=answer.text,
                citations=[asdict(c) for c in answer.citations],
            )

        return run(), answer

    def forget_chat(self, names: str | Sequence[str], *, user: str | None = None) -> None:
        """Clear the user's chat history on these stores (a new conversation)."""
        wanted = self.store_names(names)
        acting = self.user(user)
        for name in wanted:
            self.store(name, user=acting.name)
        self.catalog.clear_history(user=acting.name, stores=",".join(wanted))

    def store_names(self, names: str | Sequence[str]) -> list[str]:
        """Store names from a list or a comma-separated string, deduplicated, in order."""
        wanted = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        wanted = [n for n in dict.fromkeys(wanted) if n]
        if not wanted:
            raise InvalidInput("Name at least one store.")
        return wanted

    def export_store(self, name: str, path: Path, *, user: str | None = None) -> ExportSummary:
        """Write the store's ready documents, chunk texts and vectors to a .parquet or .jsonl file."""
        store = self.store(name, user=user)
        documents = self.catalog.list_documents(store, status=DocumentStatus.READY)
        return export_store(store, documents, self.backend(store.backend), path)

    def import_store(
        self, path: Path, *, name: str | None = None, backend: str | None = None, user: str | None = None
    ) -> Store:
        """Recreate an exported store (under its own name unless `name` says otherwise), without re-embedding."""
        owner = self.user(user)
        exported = read_export(path)
        spec = exported.store
        chunking = ChunkSettings(spec["chunk_strategy"], spec["chunk_size"], spec["chunk_overlap"])
        backend_name = backend or self.settings.default_backend
        vectors = self.backend(backend_name)
        store = self.catalog.create_store(
            name or spec["name"],
            backend=backend_name,
            embedding_model=spec["embedding_model"],
            embedding_dim=int(spec["embedding_dim"]),
            chunk_size=chunking.size,
            chunk_overlap=chunking.overlap,
            chunk_strategy=chunking.strategy.value,
            owner=owner.name,
            description=spec.get("description", ""),
        )
        ids = {d["id"]: new_id() for d in exported.documents}  # fresh ids: the original store may still exist
        try:
            vectors.create(store.collection, dimension=store.embedding_dim)
            self.catalog.add_documents(
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
            for chunks, batch_vectors in exported.batches:
                if batch_vectors.shape[1] != store.embedding_dim:
                    raise InvalidInput(
                        f"{path.name} holds {batch_vectors.shape[1]}-dimensional vectors, not {store.embedding_dim}."
                    )
                vectors.add(
                    store.collection, [replace(c, document_id=ids[c.document_id]) for c in chunks], batch_vectors
                )
            self.catalog.mark_ready({ids[d["id"]]: d["chunk_count"] for d in exported.documents})
            vectors.maintain(store.collection)
        except Exception:
            vectors.drop(store.collection)
            self.catalog.delete_store(store)
            raise
        log.info("imported store %s from %s into %s", store.name, path, backend_name)
        return store

    def documents(self, name: str, *, user: str | None = None) -> list[Document]:
        return self.catalog.list_documents(self.store(name, user=user))

    # ingest and search

    def parse_options(
        self, *, user: str, store: str | None, vision_model: str | None = None, vision_prompt: str | None = None
    ) -> ParseOptions:
        """Parsing choices from the settings, with this upload's overrides; vision calls are recorded as usage."""

        def record(model: str, outcome: llm.CompletionResponse | Exception) -> None:
            if isinstance(outcome, Exception):
                event = UsageEvent(kind="vision", user=user, store=store, model=model, ok=False, error=str(outcome))
            else:
                event = UsageEvent(
                    kind="vision",
                    user=user,
                    store=store,
                    model=model,
                    prompt_tokens=outcome.prompt_tokens,
                    completion_tokens=outcome.completion_tokens,
                    cost=outcome.cost,
                    latency_ms=outcome.latency_ms,
                )
            self.catalog.record_usage(event)

        chosen = self.settings.vision_model if vision_model is None else vision_model
        target, params = self.models.resolve(chosen) if chosen else ("", {})
        return ParseOptions(
            vision_model=target,
            vision_params=params,
            vision_prompt=vision_prompt or self.settings.vision_prompt,
            max_unzipped_bytes=self.settings.max_unzipped_mb * 2**20,
            max_zip_ratio=self.settings.max_zip_ratio,
            on_usage=record,
        )

    def ingest(
        self,
        name: str,
        uploads: Sequence[Upload | IngestResult],
        *,
        user: str | None = None,
        options: IngestOptions | None = None,
        on_progress: ProgressSink | None = None,
    ) -> list[IngestResult]:
        acting = self.user(user)
        store = self.store(name, user=acting.name, role=Role.WRITE)
        embedder = self.embedder(store.embedding_model)
        options = options or IngestOptions(parse=self.parse_options(user=acting.name, store=store.name))
        ingestor = Ingestor(
            catalog=self.catalog,
            backend=self.backend(store.backend),
            embedder=embedder,
            store=store,
            user=acting.name,
            batch_chunks=self.settings.ingest_batch_chunks,
            max_bytes=self.settings.max_upload_bytes,
            options=options,
            on_usage=self._on_usage(embedder, user=acting.name, store=store.name),
            parse=lambda filename, data, digest, opts: self.parse_cache.parse(
                filename, data, digest, opts, remember=False
            )[0],
        )
        results = ingestor.run(uploads, on_progress=on_progress)
        if any(r.status is IngestStatus.WRITTEN for r in results):
            self.backend(store.backend).maintain(store.collection)
        return results

    def ingest_paths(
        self, name: str, paths: Sequence[Path], *, user: str | None = None, options: IngestOptions | None = None
    ) -> list[IngestResult]:
        self.store(name, user=user, role=Role.WRITE)  # fail fast, before reading any file
        uploads = list(read_uploads(paths, max_bytes=self.settings.max_upload_bytes))
        return self.ingest(name, uploads, user=user, options=options)

    def preview(
        self,
        filename: str,
        data: bytes,
        *,
        chunking: ChunkSettings,
        embedding: str | None = None,
        user: str | None = None,
        vision_model: str | None = None,
        vision_prompt: str | None = None,
    ) -> Preview:
        """What ingest would make of a file with these settings; nothing is embedded or written."""
        acting = self.user(user)
        return preview(
            filename,
            data,
            settings=chunking,
            embedder=self.embedder(embedding or self.settings.default_embedding),
            options=self.parse_options(
                user=acting.name, store=None, vision_model=vision_model, vision_prompt=vision_prompt
            ),
            cache=self.parse_cache,
            max_bytes=self.settings.max_upload_bytes,
        )

    def search(
        self,
        names: str | Sequence[str],
        query: str,
        *,
        user: str | None = None,
        options: SearchOptions | None = None,
        embedding: str | None = None,
        limit: int | None = None,
    ) -> list[Hit]:
        """Search one store or several (a list, or names separated by commas), fused into one list."""
        acting = self.user(user)
        wanted = self.store_names(names)
        targets = []
        for name in wanted:
            store = self.store(name, user=acting.name)
            check_embedding(store, embedding)
            embedder = self.embedder(store.embedding_model)
            on_usage = self._on_usage(embedder, user=acting.name, store=store.name)
            targets.append(
                Target(store=store, backend=self.backend(store.backend), embedder=embedder, on_usage=on_usage)
            )

        def record(kind: str, model: str, response: object) -> None:
            self.catalog.record_usage(
                UsageEvent(
                    kind=kind,
                    user=acting.name,
                    store=",".join(wanted),
                    model=model,
                    prompt_tokens=int(getattr(response, "prompt_tokens", 0)),
                    completion_tokens=int(getattr(response, "completion_tokens", 0)),
                    cost=float(getattr(response, "cost", 0.0)),
                    latency_ms=float(getattr(response, "latency_ms", 0.0)),
                    ok=getattr(response, "error", None) is None,
                    error=getattr(response, "error", None),
                )
            )

        def rerank(text: str, hits: list[Hit], reranker: Reranker) -> list[float | None]:
            return rerank_scores(
                text,
                hits,
                reranker,
                judge_model=self.settings.judge_model,
                on_usage=record,
                resolve=self.models.resolve,
            )

        return retrieval_search(
            query, targets, catalog=self.catalog, options=options or SearchOptions(), rerank=rerank, limit=limit
        )
