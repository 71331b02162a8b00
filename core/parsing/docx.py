"""Word documents: body paragraphs and tables in order, headings as structure; headers and footers skipped."""

from __future__ import annotations

import io

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from core.parsing.document import PART_SEPARATOR, Part, assemble
from core.records import ParsedDocument


def parse_docx(filename: str, data: bytes) -> ParsedDocument:
    """One part per paragraph (a table counts as one), numbered, so that a chunk says which paragraphs it holds."""
    document = docx.Document(io.BytesIO(data))
    parts: list[Part] = []
    path: list[tuple[int, str]] = []
    title = (document.core_properties.title or "").strip() or None
    number = 0
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            text = block.text.strip()
            level = _heading_level(block)
            if level and text:
                path = [(lvl, h) for lvl, h in path if lvl < level] + [(level, text)]
                title = title or (text if level == 1 else None)
                text = "#" * level + " " + text
        else:
            text = "\n".join(_table_rows(block)) if isinstance(block, Table) else ""
            level = 0
        if not text:
            continue
        number += 1
        heading = " > ".join(h for _, h in path) or None
        joiner = PART_SEPARATOR if level else "\n"  # a heading opens a new section, as a blank line shows
        parts.append(Part(text, heading=heading, row=number, unit="paragraph", joiner=joiner))
    return assemble(filename, parts, title=title)


def _heading_level(paragraph: Paragraph) -> int:
    name = (paragraph.style.name if paragraph.style is not None else "") or ""
    if name == "Title":
        return 1
    if name.startswith("Heading"):
        digits = name.removeprefix("Heading").strip()
        return min(int(digits), 6) if digits.isdigit() else 1
    return 0


def _table_rows(table: Table) -> list[str]:
    """One line per row, cells separated by ' | '; merged cells (repeated by python-docx) appear once."""
    rows = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if cell._tc is not previous:  # a horizontally merged cell is the same element repeated
                cells.append(" ".join(cell.text.split()))
            previous = cell._tc
        if any(cells):
            rows.append(" | ".join(cells))
    return rows
