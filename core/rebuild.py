"""Re-embedding a store with another model, while it stays searchable on its old vectors until the new ones are done.

The chunks are read from the store itself (no file is parsed again) and written, with the new model's vectors,
into a new collection; only when every ready document is in it does the catalog switch the store over, in one
step, and the old collection go. Stopped at any point (an error, a closed page), the new collection is dropped and
the store is as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from core.catalog import Catalog
from core.embedding import Embedder, UsageSink
from core.errors import InvalidInput
from core.records import DocumentStatus, Store
from core.stores import VectorStore

log = logging.getLogger(__name__)

BATCH = 256


@dataclass(frozen=True)
class RebuildProgress:
    done: int  # chunks re-embedded so far
    total: int

    @property
    def share(self) -> float:
        return self.done / self.total if self.total else 1.0


def rebuild(
    store: Store,
    *,
    catalog: Catalog,
    backend: VectorStore,
    embedder: Embedder,
    on_usage: UsageSink | None = None,
    on_progress: Callable[[RebuildProgress], object] | None = None,
) -> Store:
    """The store, switched to `embedder`'s model with every ready chunk re-embedded."""
    if embedder.model == store.embedding_model:
        raise InvalidInput(f"'{store.name}' already uses {store.embedding_model}.")
    target = replace(store, generation=store.generation + 1)
    backend.create(target.collection, dimension=embedder.dimension)
    try:
        copied: set[str] = set()
        while True:  # a second pass picks up documents that became ready during the first
            ready = {d.id for d in catalog.list_documents(store, status=DocumentStatus.READY)} - copied
            if not ready:
                break
            total = sum(d.chunk_count for d in catalog.list_documents(store, status=DocumentStatus.READY))
            done = sum(backend.count(target.collection, document_id=i) for i in copied) if copied else 0
            for chunks, _ in backend.scan(store.collection, batch=BATCH):
                wanted = [c for c in chunks if c.document_id in ready]
                if not wanted:
                    continue
                vectors = embedder.embed([c.text for c in wanted], on_usage=on_usage)
                backend.add(target.collection, wanted, vectors)
                done += len(wanted)
                if on_progress is not None:
                    on_progress(RebuildProgress(done=min(done, total), total=total))
            copied |= ready
        backend.maintain(target.collection)
        switched = catalog.switch_embedding(
            store, model=embedder.model, dimension=embedder.dimension, generation=target.generation
        )
    except BaseException:
        backend.drop(target.collection)
        raise
    backend.drop(store.collection)
    log.info("store %s rebuilt with %s (%d chunks)", store.name, embedder.model, len(copied))
    return switched
