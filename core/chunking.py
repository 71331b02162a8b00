"""Chunking strategies that keep every chunk's page, heading, location and offsets in the parsed text.

All strategies share one engine: cut a span at the largest separator present until each piece fits,
then pack pieces into chunks with overlap. They differ in what they measure (characters or tokens),
which pieces they cut at (any separator or whole sentences) and which boundaries are hard (a page,
a sheet or a table always; a heading for `heading`).
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable, Sequence
from itertools import groupby, pairwise
from typing import Protocol

from core.errors import InvalidInput
from core.options import ChunkSettings, Strategy
from core.parsing.limits import DEFAULT_MAX_CHUNKS, check_chunks
from core.records import Chunk, ParsedDocument, Section

# Split on the largest unit that occurs: paragraphs, lines, sentences, clauses, words, characters.
SEPARATORS: tuple[str, ...] = ("\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", "")
SENTENCE_END = re.compile(r"\n\s*\n|\n|[.!?][\"')\]]*\s+")

Span = tuple[int, int]
TokenSpans = Callable[[str], list[Span]]  # character spans of each token of a text


class Measure(Protocol):
    def length(self, start: int, end: int) -> int: ...
    def count(self, text: str) -> int: ...
    def back(self, end: int, amount: int) -> int: ...
    def cuts(self, start: int, end: int, size: int) -> list[Span]: ...


class Characters:
    def length(self, start: int, end: int) -> int:
        return end - start

    def count(self, text: str) -> int:
        return len(text)

    def back(self, end: int, amount: int) -> int:
        return end - amount

    def cuts(self, start: int, end: int, size: int) -> list[Span]:
        return [(s, min(s + size, end)) for s in range(start, end, size)]


class Tokens:
    """Lengths in tokens, from the character spans of every token of the whole text."""

    def __init__(self, spans: Sequence[Span], tokenize: TokenSpans) -> None:
        self.starts = [s for s, _ in spans]
        self.ends = [e for _, e in spans]
        self.tokenize = tokenize

    def length(self, start: int, end: int) -> int:
        return max(0, bisect.bisect_left(self.starts, end) - bisect.bisect_right(self.ends, start))

    def count(self, text: str) -> int:
        return len(self.tokenize(text))

    def back(self, end: int, amount: int) -> int:
        index = bisect.bisect_left(self.starts, end) - amount
        return self.starts[max(index, 0)] if self.starts else end

    def cuts(self, start: int, end: int, size: int) -> list[Span]:
        first = bisect.bisect_right(self.ends, start)
        last = bisect.bisect_left(self.starts, end)
        if last - first <= size:
            return [(start, end)]
        bounds = [start, *(self.starts[i] for i in range(first + size, last, size)), end]
        return list(pairwise(bounds))


def chunk_document(
    parsed: ParsedDocument,
    *,
    document_id: str,
    settings: ChunkSettings,
    token_spans: TokenSpans | None = None,
    max_chunks: int = DEFAULT_MAX_CHUNKS,
) -> list[Chunk]:
    """Chunks of at most `settings.size` units; neighbours share up to `settings.overlap` units."""
    measure: Measure = Characters()
    if settings.strategy is Strategy.TOKENS:
        if token_spans is None:
            raise InvalidInput("Token chunking needs the embedding model's tokenizer.")
        measure = Tokens(token_spans(parsed.text), token_spans)
    sections = parsed.sections
    starts = [s.start for s in sections]
    chunks: list[Chunk] = []
    for _, group in groupby(sections, key=_hard_boundary(settings.strategy)):
        members = list(group)
        context = members[0].context
        size = settings.size
        if context:  # table rows: every chunk repeats the header row, so the row itself need not be a chunk
            if len(members) > 1 and parsed.text[members[0].start : members[0].end] == context:
                members = members[1:]
            size = max(size - measure.count(context) - 1, size // 4, 1)
        for start, end in split_text(
            parsed.text,
            size=size,
            overlap=min(settings.overlap, size - 1),
            start=members[0].start,
            end=members[-1].end,
            measure=measure,
            strategy=settings.strategy,
        ):
            first = sections[max(bisect.bisect_right(starts, start) - 1, 0)]
            last = sections[max(bisect.bisect_left(starts, end) - 1, 0)]
            text = parsed.text[start:end]
            check_chunks(parsed.filename, len(chunks) + 1, max_chunks)
            chunks.append(
                Chunk(
                    document_id=document_id,
                    filename=parsed.filename,
                    text=text,
                    chunk_index=len(chunks),
                    start=start,
                    end=end,
                    page=first.page,
                    heading=first.heading,
                    context="" if not context or text.startswith(context) else context,
                    location=_location(first, last),
                )
            )
    return chunks


def _hard_boundary(strategy: Strategy) -> Callable[[Section], tuple[object, ...]]:
    if strategy is Strategy.HEADING:
        return lambda s: (s.page, s.label, s.context, s.heading)
    return lambda s: (s.page, s.label, s.context)


def _location(first: Section, last: Section) -> str | None:
    """Where a chunk is, for people: 'Page 4', 'Slide 3', "Sheet 'Q1', rows 2–40", "Scope, paragraphs 3–5"."""
    place = first.label or (f"Page {first.page}" if first.page is not None else first.heading)
    if first.row is None:
        return place
    unit = first.unit
    rows = f"{unit} {first.row}" if last.row in (None, first.row) else f"{unit}s {first.row}–{last.row}"
    return f"{place}, {rows}" if place else rows.capitalize()


def split_text(
    text: str,
    *,
    size: int,
    overlap: int,
    start: int = 0,
    end: int | None = None,
    measure: Measure | None = None,
    strategy: Strategy = Strategy.RECURSIVE,
) -> list[Span]:
    """(start, end) offsets of chunks of text[start:end], stripped of surrounding whitespace."""
    end = len(text) if end is None else end
    measure = measure or Characters()
    if strategy is Strategy.SENTENCE:
        pieces = [p for s, e in _sentences(text, start, end) for p in _pieces(text, s, e, size, SEPARATORS, measure)]
    else:
        pieces = _pieces(text, start, end, size, SEPARATORS, measure)
    merged = _merge(text, pieces, size, overlap, measure, whole_pieces=strategy is Strategy.SENTENCE)
    if strategy is Strategy.PAGE and len(merged) > 1:  # even parts rather than full chunks and a stub
        merged = _even(text, pieces, size, overlap, measure, parts=len(merged)) or merged
    spans: list[Span] = []
    for s, e in merged:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e <= s or (spans and e <= spans[-1][1]):
            continue
        if spans and s <= spans[-1][0]:  # the previous chunk is a prefix of this one
            spans[-1] = (s, e)
        else:
            spans.append((s, e))
    return spans


def _even(text: str, pieces: list[Span], size: int, overlap: int, measure: Measure, *, parts: int) -> list[Span] | None:
    """The same number of chunks with the smallest size that still needs no more: parts of even length."""
    total = measure.length(pieces[0][0], pieces[-1][1])
    target = math.ceil((total - overlap) / parts) + overlap
    for slack in (1.0, 1.02, 1.05, 1.1, 1.2):
        limit = min(size, math.ceil(target * slack))
        merged = _merge(text, pieces, limit, min(overlap, limit - 1), measure, whole_pieces=False)
        if len(merged) <= parts:
            return merged
    return None


def _sentences(text: str, start: int, end: int) -> list[Span]:
    spans = []
    position = start
    for match in SENTENCE_END.finditer(text, start, end):
        spans.append((position, match.end()))
        position = match.end()
    if position < end:
        spans.append((position, end))
    return spans


def _pieces(text: str, start: int, end: int, size: int, separators: tuple[str, ...], measure: Measure) -> list[Span]:
    """Cut [start, end) into pieces of at most `size`, at the largest separator present (kept at piece end)."""
    if end <= start:
        return []
    if measure.length(start, _trimmed(text, start, end)) <= size:
        return [(start, end)]
    index = next(i for i, sep in enumerate(separators) if sep == "" or text.find(sep, start, end) != -1)
    separator, rest = separators[index], separators[index + 1 :]
    if separator == "":
        return measure.cuts(start, end, size)
    pieces: list[Span] = []
    position = start
    while position < end:
        found = text.find(separator, position, end)
        cut = end if found == -1 else found + len(separator)
        if measure.length(position, _trimmed(text, position, cut)) > size:
            pieces.extend(_pieces(text, position, cut, size, rest, measure))
        else:
            pieces.append((position, cut))
        position = cut
    return pieces


def _trimmed(text: str, start: int, end: int) -> int:
    """`end` moved back over trailing whitespace (which chunks shed anyway)."""
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def _merge(
    text: str, pieces: list[Span], size: int, overlap: int, measure: Measure, *, whole_pieces: bool
) -> list[Span]:
    """Pack consecutive pieces into chunks up to `size`; start each next chunk `overlap` units back."""
    merged: list[Span] = []
    if not pieces:
        return merged
    first, current = 0, pieces[0][0]
    while True:
        last = first
        while last < len(pieces) and measure.length(current, _trimmed(text, current, pieces[last][1])) <= size:
            last += 1
        last = max(last, first + 1)
        chunk_end = pieces[last - 1][1]
        merged.append((current, chunk_end))
        if last == len(pieces):
            return merged
        current = _overlap_start(text, pieces, first, last, chunk_end, overlap, measure, whole_pieces=whole_pieces)
        if (
            measure.length(current, _trimmed(text, current, pieces[last][1])) > size
        ):  # the overlap would crowd out the next piece: drop it
            current = pieces[last][0]
        first = next(i for i in range(last, -1, -1) if pieces[i][0] <= current)


def _overlap_start(
    text: str,
    pieces: list[Span],
    first: int,
    last: int,
    chunk_end: int,
    overlap: int,
    measure: Measure,
    *,
    whole_pieces: bool,
) -> int:
    """Where the next chunk starts: a piece boundary within the overlap if there is one, else a word boundary."""
    if overlap == 0:
        return chunk_end
    floor = measure.back(chunk_end, overlap)
    for s, _ in pieces[first + 1 : last]:
        if s >= floor:
            return s
    if whole_pieces:
        return chunk_end
    space = text.find(" ", floor, chunk_end)
    return space + 1 if space != -1 and space + 1 < chunk_end else floor
