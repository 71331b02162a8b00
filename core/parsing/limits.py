"""Limits on what a file may cost, counted on what is actually read and produced (never on what a header or
`st_size` claims): bytes read, bytes unpacked from an archive, markup handed to an XML parser, characters,
table rows, nesting depth, chunks and seconds of parsing. Each is a setting; each refusal is one sentence."""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from core.errors import InvalidInput, ParseError

log = logging.getLogger(__name__)

DEFAULT_MAX_CHARS = 20_000_000  # a 1,000-page filing is about 3 M characters
DEFAULT_MAX_ROWS = 100_000  # table rows per document (CSV, all sheets of a workbook)
DEFAULT_MAX_DEPTH = 64  # nesting of JSON values
DEFAULT_MAX_MARKUP_MB = 64  # XML inside an Office file that a parser builds in memory
DEFAULT_MAX_CHUNKS = 60_000  # chunks per document
DEFAULT_MAX_PARSE_SECONDS = 120.0
DEFAULT_MAX_OCR_PAGES = 500  # pages of one document read by OCR
DEFAULT_MAX_OCR_PAGE_SECONDS = 60.0  # one page read by OCR (about 1.5 s here); its time is not the parse budget's
DEFAULT_MAX_OCR_SECONDS = 1800.0  # all the pages of one document read by OCR (a 500-page scan takes about 11 min)
READ_BLOCK = 1 << 20


@dataclass(frozen=True)
class Limits:
    max_chars: int = DEFAULT_MAX_CHARS
    max_rows: int = DEFAULT_MAX_ROWS
    max_depth: int = DEFAULT_MAX_DEPTH
    max_markup_bytes: int = DEFAULT_MAX_MARKUP_MB * 2**20
    max_chunks: int = DEFAULT_MAX_CHUNKS
    max_parse_seconds: float = DEFAULT_MAX_PARSE_SECONDS
    max_ocr_pages: int = DEFAULT_MAX_OCR_PAGES
    max_ocr_page_seconds: float = DEFAULT_MAX_OCR_PAGE_SECONDS
    max_ocr_seconds: float = DEFAULT_MAX_OCR_SECONDS


@dataclass
class _Budget:
    filename: str
    limits: Limits
    deadline: float
    rows: int = 0
    ocr_seconds: float = 0.0


_current: ContextVar[_Budget | None] = ContextVar("parse_budget", default=None)


@contextmanager
def budget(filename: str, limits: Limits) -> Iterator[None]:
    """Parsing of one file under these limits (the parsers check them as they go)."""
    token = _current.set(_Budget(filename, limits, time.monotonic() + limits.max_parse_seconds))
    try:
        yield
    finally:
        _current.reset(token)


def current() -> Limits:
    found = _current.get()
    return found.limits if found else Limits()


def check_time() -> None:
    """Refuse a file whose parsing has run past the time budget (called between parts, rows, elements)."""
    found = _current.get()
    if found is not None and time.monotonic() > found.deadline:
        raise ParseError(
            f"{found.filename} took longer than {found.limits.max_parse_seconds:,.0f} s to read and was stopped "
            "(WORKBENCH_MAX_PARSE_SECONDS); it may be built to be slow to read."
        )


def ocr_page(page: int, seconds: float) -> None:
    """One page was read by OCR in `seconds` (checked once it is read: the engine cannot be interrupted): refused past
    the page's limit or the document's OCR total; not counted against the parse budget."""
    found = _current.get()
    if found is None:
        return
    found.ocr_seconds += seconds
    if found.ocr_seconds > found.limits.max_ocr_seconds:
        raise ParseError(
            f"{found.filename}: reading it by OCR took over {found.limits.max_ocr_seconds:g} s "
            "(WORKBENCH_MAX_OCR_SECONDS) and was stopped; split the scan into smaller files."
        )
    if seconds > found.limits.max_ocr_page_seconds:
        raise ParseError(
            f"{found.filename}: page {page} took {seconds:,.0f} s to read by OCR, over the "
            f"{found.limits.max_ocr_page_seconds:g} s a page allowed (WORKBENCH_MAX_OCR_PAGE_SECONDS)."
        )
    found.deadline += seconds


def tell(on_page: Callable[[int, int], None] | None, done: int, total: int) -> None:
    """Tell whoever asked that a page was read by OCR; their own trouble (a catalog hiccup while recording progress)
    fails neither the file nor its job. A cancel (a BaseException) goes through."""
    if on_page is None:
        return
    try:
        on_page(done, total)
    except Exception:
        log.warning("a page's progress could not be told", exc_info=True)


def check_chars(filename: str, count: int) -> None:
    limit = current().max_chars
    if count > limit:
        raise ParseError(
            f"{filename} holds more than {limit:,} characters of text (WORKBENCH_MAX_CHARS); "
            "split it into smaller files."
        )


def count_rows(count: int) -> None:
    """Count table rows of the file being parsed (all its tables together) and refuse past the limit."""
    found = _current.get()
    if found is None:
        return
    found.rows += count
    if found.rows > found.limits.max_rows:
        raise ParseError(
            f"{found.filename} has more than {found.limits.max_rows:,} table rows (WORKBENCH_MAX_ROWS); "
            "split it into smaller files."
        )


def check_depth(filename: str, value: object) -> None:
    """Refuse values nested deeper than the limit (measured without recursion)."""
    limit = current().max_depth
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise ParseError(f"{filename} is nested more than {limit} levels deep (WORKBENCH_MAX_DEPTH).")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


def check_chunks(filename: str, count: int, limit: int) -> None:
    if count > limit:
        raise ParseError(
            f"{filename} would make more than {limit:,} chunks (WORKBENCH_MAX_CHUNKS); use larger chunks or "
            "split the file."
        )


def read_file(path: Path, *, max_bytes: int) -> bytes:
    """A regular file's bytes, read in blocks and stopped at `max_bytes` whatever its size claims;
    devices, pipes and sockets are refused before they are opened (they can be endless or never answer)."""
    try:
        info = os.stat(path)
    except OSError as exc:
        reason = "it does not exist" if isinstance(exc, FileNotFoundError) else exc.strerror or str(exc)
        raise InvalidInput(f"{path} could not be read: {reason}.") from exc
    if not stat.S_ISREG(info.st_mode):
        raise InvalidInput(f"{path.name} is not a regular file (a device, pipe or socket); only files can be added.")
    if info.st_size > max_bytes:
        raise InvalidInput(f"{path.name} is {info.st_size / 2**20:,.0f} MB, over the {_mb(max_bytes)} upload limit.")
    blocks = []
    read = 0
    try:
        with path.open("rb") as handle:
            while block := handle.read(min(READ_BLOCK, max_bytes + 1 - read)):
                blocks.append(block)
                read += len(block)
                if read > max_bytes:
                    raise InvalidInput(f"{path.name} is over the {_mb(max_bytes)} upload limit.")
    except OSError as exc:
        raise InvalidInput(f"{path} could not be read: {exc.strerror or exc}.") from exc
    return b"".join(blocks)


def _mb(size: int) -> str:
    return f"{size / 2**20:,.0f} MB"
