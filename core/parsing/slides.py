"""PowerPoint: one section per slide (title, body, tables, speaker notes); the slide number is the page."""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from core.parsing.document import Part, assemble
from core.records import ParsedDocument


def parse_pptx(filename: str, data: bytes) -> ParsedDocument:
    from pptx import Presentation

    presentation = Presentation(io.BytesIO(data))
    parts = []
    slides = 0
    for number, slide in enumerate(presentation.slides, start=1):
        slides = number
        title_shape = slide.shapes.title
        title = (
            " ".join(title_shape.text_frame.text.split())
            if title_shape is not None and title_shape.has_text_frame
            else ""
        )
        title_id = title_shape.shape_id if title_shape is not None else None
        body = [text for shape in slide.shapes if shape.shape_id != title_id for text in _shape_texts(shape)]
        lines = [f"# {title}"] if title else []
        lines.extend(body)
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame.text.strip() if slide.notes_slide.notes_text_frame else ""
            if notes:
                lines.append(f"Notes: {notes}")
        parts.append(Part("\n".join(lines), page=number, heading=title or None, label=f"Slide {number}"))
    deck_title = (presentation.core_properties.title or "").strip() or None
    return assemble(filename, parts, title=deck_title, page_count=slides)


def _shape_texts(shape: Any) -> Iterable[str]:
    if getattr(shape, "shape_type", None) == 6:  # a group: its shapes in order
        for inner in shape.shapes:
            yield from _shape_texts(inner)
    elif getattr(shape, "has_table", False) and shape.has_table:
        for row in shape.table.rows:
            cells = [" ".join(cell.text.split()) for cell in row.cells]
            if any(cells):
                yield " | ".join(cells)
    elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        for paragraph in shape.text_frame.paragraphs:
            text = " ".join("".join(run.text for run in paragraph.runs).split())
            if text:
                yield text
