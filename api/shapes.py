"""OpenAI's request bodies (every optional field may be null) and response objects, built from core records."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from core.errors import InvalidInput, NotFound
from core.jobs import StoreFile
from core.options import ChunkSettings, Strategy
from core.records import Store
from core.workbench.search import FileHit

STORE_PREFIX = "vs_"
FILE_PREFIX = "file-"
BATCH_PREFIX = "vsfb_"
POLL_AFTER_MS = "500"  # tells the OpenAI SDK how soon to ask again about a file in progress
MAX_LIST = 100
MIN_STATIC_TOKENS, MAX_STATIC_TOKENS = 100, 4096

T = TypeVar("T")


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class StaticChunking(Body):
    max_chunk_size_tokens: int = 800
    chunk_overlap_tokens: int = 400


class ChunkingStrategy(Body):
    type: Literal["auto", "static", "other"] = "auto"
    static: StaticChunking | None = None


class StoreCreate(Body):
    name: str | None = None
    description: str | None = None
    metadata: dict[str, str] | None = None
    chunking_strategy: ChunkingStrategy | None = None
    expires_after: dict[str, Any] | None = None
    file_ids: list[str] | None = None


class StoreUpdate(Body):
    name: str | None = None
    metadata: dict[str, str] | None = None
    expires_after: dict[str, Any] | None = None


class FileAttach(Body):
    file_id: str
    attributes: dict[str, str | int | float | bool] | None = None
    chunking_strategy: ChunkingStrategy | None = None


class FileUpdate(Body):
    attributes: dict[str, str | int | float | bool] | None = None


class BatchCreate(Body):
    file_ids: list[str] | None = None
    files: list[FileAttach] | None = None
    attributes: dict[str, str | int | float | bool] | None = None
    chunking_strategy: ChunkingStrategy | None = None


class Ranking(Body):
    ranker: str | None = None
    score_threshold: float | None = None


class SearchRequest(Body):
    query: str | list[str]
    filters: dict[str, Any] | None = None
    max_num_results: int | None = Field(default=None, description="1 to 50 (default 10); `top_k` is an alias")
    top_k: int | None = None
    ranking_options: Ranking | None = None
    rewrite_query: bool | None = None


class RagRequest(Body):
    query: str
    model: str | None = None
    rerank: bool | None = None
    top_k: int | None = None


class EmbeddingRequest(Body):
    input: str | list[str]
    model: str | None = None
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: int | None = None
    user: str | None = None


def unix(value: Any) -> int:
    return int(value.timestamp()) if value is not None else int(time.time())


def bare(public_id: str, prefix: str, what: str) -> str:
    """The catalog id inside a public one ("vs_3f…" → "3f…"); any other form names nothing."""
    if not public_id.startswith(prefix) or len(public_id) <= len(prefix):
        raise NotFound(f"There is no {what} '{public_id}'.")
    return public_id[len(prefix) :]


def chunking(strategy: ChunkingStrategy | None) -> ChunkSettings | None:
    """OpenAI's static strategy in tokens, as the product's token chunking; auto (or none): the store's own."""
    if strategy is None or strategy.type == "auto":
        return None
    if strategy.type != "static" or strategy.static is None:
        raise InvalidInput("chunking_strategy must be {'type': 'auto'} or {'type': 'static', 'static': {...}}.")
    size, overlap = strategy.static.max_chunk_size_tokens, strategy.static.chunk_overlap_tokens
    if not MIN_STATIC_TOKENS <= size <= MAX_STATIC_TOKENS:
        raise InvalidInput(f"max_chunk_size_tokens must be {MIN_STATIC_TOKENS} to {MAX_STATIC_TOKENS}, not {size}.")
    if not 0 <= overlap <= size // 2:
        raise InvalidInput(
            f"chunk_overlap_tokens must be 0 to half of max_chunk_size_tokens ({size // 2}), not {overlap}."
        )
    return ChunkSettings(Strategy.TOKENS, size, overlap)


@dataclass
class Paging:
    """The query of every OpenAI list: how many, which way, and from which id."""

    limit: int | None = None
    order: str | None = None
    after: str | None = None
    before: str | None = None

    def page(self, items: Sequence[T], ids: Callable[[T], str]) -> dict[str, Any]:
        return page(items, ids, limit=self.limit, order=self.order, after=self.after, before=self.before)


def page(
    items: Sequence[T],
    ids: Callable[[T], str],
    *,
    limit: int | None,
    order: str | None,
    after: str | None,
    before: str | None,
) -> dict[str, Any]:
    """A cursor page as OpenAI lists return it: newest first by default, always with has_more."""
    limit = 20 if limit is None else limit
    if not 1 <= limit <= MAX_LIST:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIST}, not {limit}.")
    if order not in (None, "asc", "desc"):
        raise InvalidInput(f"order must be asc or desc, not '{order}'.")
    ordered = list(items) if order in (None, "desc") else list(reversed(items))  # items arrive newest first
    keys = [ids(i) for i in ordered]
    start, end = 0, len(ordered)
    if after:
        if after not in keys:
            raise InvalidInput(f"after: '{after}' is not in this list (it may have been deleted).")
        start = keys.index(after) + 1
    if before:
        if before not in keys:
            raise InvalidInput(f"before: '{before}' is not in this list (it may have been deleted).")
        end = keys.index(before)
        start = max(start, end - limit) if not after else start
    chosen = ordered[start:end][:limit]
    return {
        "object": "list",
        "data": chosen,
        "first_id": ids(chosen[0]) if chosen else None,
        "last_id": ids(chosen[-1]) if chosen else None,
        "has_more": start + len(chosen) < end,
    }


def file_counts(files: Sequence[StoreFile]) -> dict[str, int]:
    counts = {"in_progress": 0, "completed": 0, "failed": 0, "cancelled": 0}
    for f in files:
        counts[f.status] += 1
    return {**counts, "total": len(files)}


def vector_store(
    store: Store, counts: dict[str, int], *, usage_bytes: int = 0, last_active: Any = None
) -> dict[str, Any]:
    return {
        "id": STORE_PREFIX + store.id,
        "object": "vector_store",
        "created_at": unix(store.created_at),
        "name": store.name,
        "description": store.description or None,
        "usage_bytes": usage_bytes,
        "file_counts": counts,
        "status": "in_progress" if counts["in_progress"] else "completed",
        "last_active_at": unix(last_active or store.created_at),
        "metadata": dict(store.metadata),
        "expires_after": None,
        "expires_at": None,
        # the workbench's own, beside OpenAI's fields
        "backend": store.backend,
        "embedding_model": store.embedding_model,
        "chunking": {"strategy": store.chunk_strategy, "size": store.chunk_size, "overlap": store.chunk_overlap},
    }


def vector_store_file(store: Store, f: StoreFile) -> dict[str, Any]:
    chunk = f.job.options.get("chunking") if f.job is not None else None
    strategy: dict[str, Any] = {"type": "other"}
    if isinstance(chunk, dict) and chunk.get("strategy") == Strategy.TOKENS.value:
        static = {"max_chunk_size_tokens": chunk["size"], "chunk_overlap_tokens": chunk["overlap"]}
        strategy = {"type": "static", "static": static}
    return {
        "id": FILE_PREFIX + f.file_id,
        "object": "vector_store.file",
        "created_at": unix(f.created_at),
        "usage_bytes": f.size_bytes if f.status == "completed" else 0,
        "vector_store_id": STORE_PREFIX + store.id,
        "status": f.status,
        "last_error": {"code": f.error_code.value, "message": f.error or ""}
        if f.error_code and f.status == "failed"
        else None,
        "attributes": dict(f.attributes),
        "chunking_strategy": strategy,
        "filename": f.filename,
        "progress": round(f.progress, 3) if f.status == "in_progress" else None,
    }


def batch(store: Store, batch_id: str, files: Sequence[StoreFile], created: Any) -> dict[str, Any]:
    counts = file_counts(files)
    if counts["in_progress"]:
        status = "in_progress"
    elif counts["cancelled"]:
        status = "cancelled"
    elif files and counts["failed"] == len(files):
        status = "failed"
    else:
        status = "completed"
    return {
        "id": BATCH_PREFIX + batch_id,
        "object": "vector_store.files_batch",
        "created_at": unix(created),
        "vector_store_id": STORE_PREFIX + store.id,
        "status": status,
        "file_counts": counts,
    }


def search_result(store: Store, found: FileHit) -> dict[str, Any]:
    hit = found.hit
    facts: dict[str, Any] = {
        "store": store.name,
        "vector_store_id": STORE_PREFIX + store.id,
        "chunk_index": hit.chunk_index,
        "location": hit.location,
        "page": hit.page,
    }
    attributes = {**found.attributes, **{k: v for k, v in facts.items() if v is not None}}
    return {
        "file_id": FILE_PREFIX + found.file_id,
        "filename": hit.filename,
        "score": round(float(hit.score), 6),
        "attributes": attributes,
        "content": [{"type": "text", "text": hit.text}],
    }
