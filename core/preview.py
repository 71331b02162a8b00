"""Chunk preview for the upload page: parse once (cached by content hash), re-chunk on every slider move."""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

from core import parsing
from core.chunking import Span, Tokens
from core.embedding import Embedder
from core.errors import InvalidInput
from core.ingest import content_hash
from core.options import ChunkSettings
from core.parsing.options import ParseOptions
from core.records import Chunk, ParsedDocument
from core.windows import windows

CACHE_ENTRIES = 16  # parsed documents kept; a 100-page filing is ~0.5 MB of text


@dataclass(frozen=True)
class Preview:
    parsed: ParsedDocument
    chunks: tuple[Chunk, ...]
    overlaps: tuple[Span, ...]  # spans of parsed.text that two neighbouring chunks share
    settings: ChunkSettings
    parse_ms: float
    chunk_ms: float
    from_cache: bool
    over_window: int  # chunks longer than the embedding model reads

    @property
    def sizes(self) -> list[int]:
        return [len(c.content) for c in self.chunks]


class ParseCache:
    """Parsed documents and token spans, least recently used first out; safe to share between sessions."""

    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        self.entries = entries
        self._items: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()

    def _get(self, key: Hashable) -> object | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def _put(self, key: Hashable, value: object) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)

    def parse(
        self, filename: str, data: bytes, digest: str, options: ParseOptions, *, remember: bool = True
    ) -> tuple[ParsedDocument, bool]:
        key = (
            "parsed",
            digest,
            parsing.extension(filename),
            options.vision_model,
            options.vision_prompt,
            options.ocr,
        )
        hit = self._get(key)
        if isinstance(hit, ParsedDocument) and not (hit.partial and not options.ocr_first):  # a preview's: read all
            return (hit if hit.filename == filename else _renamed(hit, filename)), True
        parsed = parsing.parse(filename, data, options)
        if remember:
            self._put(key, parsed)
        return parsed, False

    def token_spans(self, embedder: Embedder, text: str) -> list[Span]:
        if len(text) < 2000:  # short texts (a table header) are cheaper to tokenize than to remember
            return embedder.token_spans(text)
        key = ("tokens", embedder.model, text)
        hit = self._get(key)
        if isinstance(hit, list):
            return hit
        spans = embedder.token_spans(text)
        self._put(key, spans)
        return spans


def _renamed(parsed: ParsedDocument, filename: str) -> ParsedDocument:
    from dataclasses import replace

    return replace(parsed, filename=filename)


def preview(
    filename: str,
    data: bytes,
    *,
    settings: ChunkSettings,
    embedder: Embedder,
    options: ParseOptions,
    cache: ParseCache,
    max_bytes: int,
) -> Preview:
    """The parsed text and its chunks as ingest would make them, without embedding or writing anything."""
    if len(data) > max_bytes:
        raise InvalidInput(
            f"{filename} is {len(data) / 2**20:,.0f} MB, over the {max_bytes / 2**20:,.0f} MB upload limit."
        )
    started = time.perf_counter()
    parsed, from_cache = cache.parse(filename, data, content_hash(data), options)
    parsed_at = time.perf_counter()
    chunks = windows(
        parsed,
        document_id="preview",
        settings=settings,
        token_spans=lambda t: cache.token_spans(embedder, t),
        window=embedder.window_tokens,
        max_chunks=options.limits.max_chunks,
    )
    chunked_at = time.perf_counter()
    overlaps = tuple((b.start, a.end) for a, b in itertools.pairwise(chunks) if b.start < a.end)
    return Preview(
        parsed=parsed,
        chunks=tuple(chunks),
        overlaps=overlaps,
        settings=settings,
        parse_ms=(parsed_at - started) * 1000,
        chunk_ms=(chunked_at - parsed_at) * 1000,
        from_cache=from_cache,
        over_window=_over_window(chunks, parsed.text, embedder, cache),
    )


def _over_window(chunks: list[Chunk], text: str, embedder: Embedder, cache: ParseCache) -> int:
    """Chunks longer than the model reads, counted on the document's cached tokens (no re-tokenizing per move)."""
    window = embedder.window_tokens
    if window is None or not chunks:
        return 0
    tokens = Tokens(cache.token_spans(embedder, text), embedder.token_spans)
    special = 2  # [CLS] and [SEP]
    return sum(
        1
        for c in chunks
        if tokens.length(c.start, c.end) + (tokens.count(c.context) if c.context else 0) + special > window
    )
