"""Assembling parsed parts into one text with sections that keep each part's location."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.parsing import limits
from core.records import ParsedDocument, Section

PART_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class Part:
    """A piece of a document's text and where it came from; `joiner` separates it from the part before."""

    text: str
    page: int | None = None
    heading: str | None = None
    context: str = ""
    label: str | None = None
    row: int | None = None
    joiner: str = PART_SEPARATOR
    unit: str = "row"  # what `row` counts, for the location: "row" (tables), "paragraph" (Word)


def assemble(
    filename: str,
    parts: Iterable[Part],
    *,
    title: str | None = None,
    page_count: int | None = None,
    warnings: Iterable[str] = (),
) -> ParsedDocument:
    """Join non-empty parts with blank lines; each becomes a Section spanning its text."""
    pieces: list[str] = []
    sections: list[Section] = []
    offset = 0
    for count, part in enumerate(parts):
        if count % 256 == 0:
            limits.check_time()
        text = part.text.strip()
        if not text:
            continue
        limits.check_chars(filename, offset + len(text))
        if pieces:
            pieces.append(part.joiner)
            offset += len(part.joiner)
        pieces.append(text)
        sections.append(
            Section(
                start=offset,
                end=offset + len(text),
                page=part.page,
                heading=part.heading,
                context=part.context,
                label=part.label,
                row=part.row,
                unit=part.unit,
            )
        )
        offset += len(text)
    return ParsedDocument(
        filename=filename,
        text="".join(pieces),
        sections=tuple(sections),
        title=title,
        page_count=page_count,
        warnings=tuple(warnings),
    )
