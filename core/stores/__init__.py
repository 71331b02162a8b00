"""The vector-store protocol and the registry of backends, imported lazily by name."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from core.config import Settings
from core.errors import BackendUnavailable
from core.objects import remote, s3_options
from core.records import Chunk, Hit

# name -> "module:Class"; a backend module is imported only when a store uses it. Each module also has a
# `Config` dataclass: the few settings it needs (CONFIGS below picks them), never the whole Settings.
BACKENDS: dict[str, str] = {
    "lancedb": "core.stores.lance:LanceStore",
    "milvus": "core.stores.milvus:MilvusStore",
}

CONFIGS: dict[str, Callable[[Settings], dict[str, Any]]] = {
    "lancedb": lambda s: {"uri": s.lance_uri, "storage_options": s3_options() if remote(s.lance_uri) else {}},
    "milvus": lambda s: {
        "uri": s.milvus_uri or str(s.data_dir / "milvus.db"),
        "token": s.milvus_token,
        "db_name": s.milvus_db,
        "consistency": s.milvus_consistency,
        "search_params": s.milvus_search_params,
        "partition": s.milvus_partition,
        "extra_filter": s.milvus_filter,
    },
}

# what to install when a backend's module cannot be imported
INSTALL_HINTS: dict[str, str] = {
    "lancedb": "pip install lancedb",
    "milvus": "pip install pymilvus milvus-lite",
}


# what every backend stores for a chunk, besides its vector
CHUNK_FIELDS = [
    "id",
    "document_id",
    "filename",
    "text",
    "page",
    "chunk_index",
    "char_start",
    "char_end",
    "heading",
    "location",
    "metadata",
]


# A stored text is the window's header, this mark, then its content: full-text search indexes the header with the
# text (so "3M 2018 cash flow" finds the page), while hits, the viewer and exports read the two apart. A control
# character no parser leaves in text (they are replaced on parsing) and no tokenizer reads as a word. Rows written
# before headers existed have no mark and read as content alone.
HEADER_MARK = "\x1e"


def stored_text(chunk: Chunk) -> str:
    """What a backend writes in its `text` field for a chunk."""
    return f"{chunk.header}{HEADER_MARK}\n{chunk.content}" if chunk.header else chunk.content


def read_text(stored: str) -> tuple[str, str]:
    """(header, content) of a stored text."""
    header, mark, content = stored.partition(HEADER_MARK)
    return (header, content.removeprefix("\n")) if mark else ("", stored)


def chunk_id(document_id: str, chunk_index: int) -> str:
    """A chunk's row id in every backend."""
    return f"{document_id}:{chunk_index}"


@dataclass(frozen=True)
class Where:
    """A pre-filter every backend understands: only chunks of these documents (None: of any), none of `hidden`
    (chunk ids: chunks an editor disabled), none of the documents `excluded` (being written, failed: a few, where
    the store's ready ones may be a hundred thousand)."""

    document_ids: frozenset[str] | None = None
    hidden: frozenset[str] = frozenset()
    excluded: frozenset[str] = frozenset()

    @property
    def nothing(self) -> bool:
        """No document may match: a search answers [] without asking the backend."""
        return self.document_ids is not None and not self.document_ids


@dataclass(frozen=True)
class Indexing:
    """A collection's vector index: its kind (None: every search reads every vector), the rows not in it yet."""

    rows: int
    vector_index: str | None
    unindexed: int
    due: bool = False  # `maintain` would build or refresh an index now


class VectorStore(Protocol):
    """What every backend does; vectors arrive L2-normalised, scores leave as cosine similarity."""

    def create(self, collection: str, *, dimension: int) -> None:
        """Create an empty collection (no-op when it already exists with this dimension)."""

    def drop(self, collection: str) -> None:
        """Remove the collection and everything in it (no-op when it does not exist)."""

    def add(self, collection: str, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Write chunks (their `stored_text`) with their vectors, one row each, visible to search when this returns."""

    def upsert(self, collection: str, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Write chunks as `add` does, each replacing the stored chunk of the same document and index (an edit)."""

    def delete_documents(self, collection: str, document_ids: Sequence[str]) -> None:
        """Remove every chunk of these documents."""

    def search(
        self, collection: str, vector: np.ndarray, *, top_k: int, where: Where | None = None, exact: bool = False
    ) -> list[Hit]:
        """The top_k chunks nearest to the vector by cosine similarity, best first: through the collection's vector
        index where it has one (approximate), or every vector read (`exact`)."""

    def fulltext(self, collection: str, query: str, *, top_k: int, where: Where | None = None) -> list[Hit]:
        """The top_k chunks by BM25 over their text (stemmed, stop words removed), best first; [] when none match."""

    def vectors(self, collection: str, hits: Sequence[Hit]) -> np.ndarray:
        """The stored vectors of these chunks, in order (for MMR and other reranking)."""

    def maintain(self, collection: str) -> None:
        """Fold recent writes into the indexes and build the ones the collection's size calls for (in the
        background, after an ingest); searches are correct without it."""

    def indexing(self, collection: str) -> Indexing:
        """How the collection is indexed now: its rows, its vector index, the rows not in it yet."""

    def count(self, collection: str, *, document_id: str | None = None) -> int:
        """How many chunks the collection (or one document in it) holds."""

    def scan(self, collection: str, *, batch: int = 1000) -> Iterator[tuple[list[Chunk], np.ndarray]]:
        """Every chunk (its stored content as text) with its vector, in batches: for export."""

    def document_chunks(self, collection: str, document_id: str) -> list[Chunk]:
        """One document's chunks (stored content as text), in order: for the document viewer."""

    def size_bytes(self, collection: str) -> int | None:
        """Bytes the collection takes on disk, or None where the backend cannot tell (a server)."""


def chunk_of(hit: Hit, metadata: dict[str, str]) -> Chunk:
    """A stored row read back as a Chunk (for scans and exports): its content is the text, with no separate context."""
    return Chunk(
        header=hit.header,
        document_id=hit.document_id,
        filename=hit.filename,
        text=hit.text,
        chunk_index=hit.chunk_index,
        start=hit.start,
        end=hit.end,
        page=hit.page,
        heading=hit.heading,
        location=hit.location,
        metadata=metadata,
    )


def open_backend(name: str, settings: Settings) -> VectorStore:
    """Instantiate the backend registered under `name`."""
    target = BACKENDS.get(name)
    if target is None:
        known = ", ".join(sorted(BACKENDS))
        raise BackendUnavailable(f"Unknown storage backend '{name}'. Choose one of: {known}.")
    module_name, class_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = INSTALL_HINTS.get(name, "pip install -r requirements.txt")
        raise BackendUnavailable(
            f"The '{name}' backend is not installed ({exc.name} is missing); install it with `{hint}`."
        ) from exc
    config = module.Config(**CONFIGS.get(name, lambda _settings: {})(settings))
    backend: VectorStore = getattr(module, class_name)(config)
    return backend
