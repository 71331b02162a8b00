"""Retrieval above the store protocol: query embedding, ready-document filtering, and (later) fusion and reranking."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from core.catalog import Catalog
from core.embedding import Embedder, UsageSink
from core.errors import EmbeddingMismatch, InvalidInput
from core.records import Hit, Store
from core.stores import MAX_TOP_K, VectorStore

log = logging.getLogger(__name__)

DEFAULT_TOP_K = 5
MAX_REFETCH = 3  # rounds of over-fetching when hits of unfinished documents had to be dropped


@dataclass(frozen=True)
class SearchOptions:
    """How to search; validated on creation."""

    top_k: int = DEFAULT_TOP_K

    def __post_init__(self) -> None:
        if not 1 <= self.top_k <= MAX_TOP_K:
            raise InvalidInput(f"top-k must be between 1 and {MAX_TOP_K}, not {self.top_k}.")


def check_embedding(store: Store, model: str | None) -> None:
    """Refuse to query a store with another model than the one it was built with."""
    if model is not None and model != store.embedding_model:
        raise EmbeddingMismatch(
            f"Store '{store.name}' was built with {store.embedding_model} ({store.embedding_dim} dimensions); "
            f"it cannot be searched with {model}. Search it with its own model, or ingest the files into a new store."
        )


def vector_search(
    query: str,
    *,
    store: Store,
    catalog: Catalog,
    backend: VectorStore,
    embedder: Embedder,
    options: SearchOptions,
    on_usage: UsageSink | None = None,
) -> list[Hit]:
    """The top_k chunks of ready documents by cosine similarity, best first; [] when nothing matches."""
    if not query.strip():
        raise InvalidInput("Type something to search for.")
    check_embedding(store, embedder.model)
    vector = embedder.embed_query(query, on_usage=on_usage)
    if vector.shape[0] != store.embedding_dim:
        raise EmbeddingMismatch(
            f"{embedder.model} gives {vector.shape[0]}-dimensional vectors but store '{store.name}' holds {store.embedding_dim}."
        )
    limit = options.top_k
    for _ in range(MAX_REFETCH):
        raw = backend.search(store.collection, vector, top_k=limit)
        ready = catalog.ready_ids(store, {h.document_id for h in raw})
        hits = [replace(h, store=store.name) for h in raw if h.document_id in ready]
        if len(hits) >= options.top_k or len(raw) < limit:
            break
        limit *= 4  # chunks of documents still being ingested (or failed) were dropped: look further
    return hits[: options.top_k]
