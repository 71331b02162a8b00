"""Recursive character chunking that keeps every chunk's page, heading and offsets in the parsed text."""

from __future__ import annotations

import bisect
from itertools import groupby

from core.errors import InvalidInput
from core.records import Chunk, ParsedDocument

# Split on the largest unit that occurs: paragraphs, lines, sentences, clauses, words, characters.
SEPARATORS: tuple[str, ...] = ("\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", "")

Span = tuple[int, int]


def check_chunking(size: int, overlap: int) -> None:
    """Refuse sizes the chunker cannot honour."""
    if size < 1 or not 0 <= overlap < size:
        raise InvalidInput(f"Chunk overlap ({overlap}) must be at least 0 and smaller than the chunk size ({size}).")


def chunk_document(parsed: ParsedDocument, *, document_id: str, size: int, overlap: int) -> list[Chunk]:
    """Chunks of at most `size` characters; consecutive chunks share up to `overlap` characters.

    Page boundaries are hard: a chunk never spans two pages, so its page number is exact.
    """
    check_chunking(size, overlap)
    sections = parsed.sections
    starts = [s.start for s in sections]
    chunks: list[Chunk] = []
    for page, group in groupby(sections, key=lambda s: s.page):
        members = list(group)
        for start, end in split_text(
            parsed.text, size=size, overlap=overlap, start=members[0].start, end=members[-1].end
        ):
            section = sections[max(bisect.bisect_right(starts, start) - 1, 0)]
            chunks.append(
                Chunk(
                    document_id=document_id,
                    filename=parsed.filename,
                    text=parsed.text[start:end],
                    chunk_index=len(chunks),
                    start=start,
                    end=end,
                    page=page,
                    heading=section.heading,
                )
            )
    return chunks


def split_text(text: str, *, size: int, overlap: int, start: int = 0, end: int | None = None) -> list[Span]:
    """(start, end) offsets of chunks of text[start:end], stripped of surrounding whitespace."""
    end = len(text) if end is None else end
    pieces = _pieces(text, start, end, size, SEPARATORS)
    spans: list[Span] = []
    for s, e in _merge(text, pieces, size, overlap):
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s and (not spans or e > spans[-1][1]):
            spans.append((s, e))
    return spans


def _pieces(text: str, start: int, end: int, size: int, separators: tuple[str, ...]) -> list[Span]:
    """Cut [start, end) into pieces of at most `size`, at the largest separator present (kept at piece end)."""
    if end - start <= size:
        return [(start, end)] if end > start else []
    index = next(i for i, sep in enumerate(separators) if sep == "" or text.find(sep, start, end) != -1)
    separator, rest = separators[index], separators[index + 1 :]
    if separator == "":
        return [(s, min(s + size, end)) for s in range(start, end, size)]
    pieces: list[Span] = []
    position = start
    while position < end:
        found = text.find(separator, position, end)
        cut = end if found == -1 else found + len(separator)
        if cut - position > size:
            pieces.extend(_pieces(text, position, cut, size, rest))
        else:
            pieces.append((position, cut))
        position = cut
    return pieces


def _merge(text: str, pieces: list[Span], size: int, overlap: int) -> list[Span]:
    """Pack consecutive pieces into chunks up to `size`; start each next chunk `overlap` characters back."""
    merged: list[Span] = []
    if not pieces:
        return merged
    first, current = 0, pieces[0][0]
    while True:
        last = first
        while last < len(pieces) and pieces[last][1] - current <= size:
            last += 1
        chunk_end = pieces[last - 1][1]
        merged.append((current, chunk_end))
        if last == len(pieces):
            return merged
        current = _overlap_start(text, pieces, first, last, chunk_end, overlap)
        if pieces[last][1] - current > size:  # the overlap would crowd out the next piece: drop it
            current = pieces[last][0]
        first = next(i for i in range(last, -1, -1) if pieces[i][0] <= current)


def _overlap_start(text: str, pieces: list[Span], first: int, last: int, chunk_end: int, overlap: int) -> int:
    """Where the next chunk starts: a piece boundary within the overlap if there is one, else a word boundary."""
    if overlap == 0:
        return chunk_end
    floor = chunk_end - overlap
    for s, _ in pieces[first + 1 : last]:
        if s >= floor:
            return s
    space = text.find(" ", floor, chunk_end)
    return space + 1 if space != -1 and space + 1 < chunk_end else floor
