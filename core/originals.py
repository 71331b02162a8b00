"""The original files of PDF documents, kept in the file storage (local, or object storage every machine reads) so
that a cited page can be shown as the page itself, with the cited passage outlined (rendered with pypdfium2)."""

from __future__ import annotations

import functools
import io
import logging
import threading
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium

from core.objects import Objects
from core.parsing.pdf import SCANNED_CHARS

log = logging.getLogger(__name__)

KEPT = (".pdf",)  # formats whose pages can be shown
SCALE = 1.6  # 115 dpi: a table's figures stay legible without a huge image
PASSAGE_CHARS = 60  # the cited passage is found on the page by its first words
OUTLINE = (255, 140, 0)
RENDERED = 32  # pages kept rendered (about 70 KB each)


class Originals:
    def __init__(self, objects: Objects) -> None:
        self.objects = objects

    @staticmethod
    def key(store_id: str, document_id: str) -> str:
        return f"originals/{store_id}/{document_id}.pdf"

    def keep(self, store_id: str, document_id: str, filename: str, data: bytes) -> None:
        if Path(filename).suffix.lower() in KEPT:
            self.objects.put(self.key(store_id, document_id), data)

    def forget(self, store_id: str, document_ids: list[str]) -> None:
        for document_id in document_ids:
            self.objects.delete(self.key(store_id, document_id))

    def drop(self, store_id: str) -> None:
        self.objects.delete_prefix(f"originals/{store_id}/")

    def page_png(self, store_id: str, document_id: str, page: int, passage: str = "") -> bytes | None:
        """Page `page` (1-based) as a PNG with the passage outlined where it is found; None when not kept.
        A document's original never changes (a new version is a new document), so a rendered page is kept."""
        try:
            return _rendered(self.objects, self.key(store_id, document_id), page, passage)
        except _NotKept:  # not cached: it may be written a moment from now
            return None


class _NotKept(Exception):
    pass


@functools.lru_cache(maxsize=RENDERED)
def _rendered(objects: Objects, key: str, page: int, passage: str) -> bytes | None:
    """A page rendered once: the chat page draws every cited page again on each rerun."""
    data = objects.get(key)
    if data is None:
        raise _NotKept(key)
    pdf = pdfium.PdfDocument(data)
    try:
        if not 1 <= page <= len(pdf):
            return None
        sheet = pdf[page - 1]
        image = sheet.render(scale=SCALE).to_pil().convert("RGB")
        box = _passage_box(sheet, passage)
        frame = None
        if box is not None:
            height = sheet.get_height()
            left, bottom, right, top = box
            frame = [
                (left - 3) * SCALE,
                (height - top - 3) * SCALE,
                (right + 3) * SCALE,
                (height - bottom + 3) * SCALE,
            ]
        elif passage.strip() and len(sheet.get_textpage().get_text_range().strip()) < SCANNED_CHARS:  # a scan
            frame = _read_box(key, page, image, passage)
        if frame is not None:
            from PIL import ImageDraw

            ImageDraw.Draw(image).rectangle(frame, outline=OUTLINE, width=3)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()
    except pdfium.PdfiumError as exc:
        log.warning("could not render page %d of %s: %s", page, key, exc)
        return None
    finally:
        pdf.close()


def _passage_box(sheet: pdfium.PdfPage, passage: str) -> tuple[float, float, float, float] | None:
    """The bounding box (PDF points: left, bottom, right, top) from the passage's first line to its last, as found
    on the page (each searched by up to 60 characters: lines of the page are not lines of the passage)."""
    lines = [" ".join(line.split()) for line in passage.splitlines() if len(line.strip()) >= 12]
    if not lines:
        return None
    text = sheet.get_textpage()
    boxes = []
    for probe in {lines[0][:PASSAGE_CHARS], lines[-1][-PASSAGE_CHARS:]}:
        found = text.search(probe, match_case=False).get_next()
        if found is not None:
            start, count = found
            boxes += [text.get_charbox(i) for i in range(start, start + count)]
    if not boxes:
        return None
    return min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)


def _read_box(key: str, page: int, image: Any, passage: str) -> list[float] | None:
    """The box (pixels) around the lines OCR reads on the page that belong to the passage (None: the page is shown
    without an outline, whatever went wrong reading it)."""

    wanted = " ".join(passage.lower().split())
    try:
        lines = _page_lines(key, page, image)
    except Exception:  # the page itself is still worth showing
        log.warning("could not read the scanned page to outline a passage", exc_info=True)
        return None
    boxes = [
        line.box for line in lines if len(line.text.strip()) >= 8 and " ".join(line.text.lower().split()) in wanted
    ]
    if not boxes:
        return None
    return [min(b[0] for b in boxes) - 4, min(b[1] for b in boxes) - 4,
            max(b[2] for b in boxes) + 4, max(b[3] for b in boxes) + 4]  # fmt: skip


_lines: dict[tuple[str, int], tuple[Any, ...]] = {}  # what OCR read on a cited scanned page, whatever the passage
_lines_lock = threading.Lock()


def _page_lines(key: str, page: int, image: Any) -> tuple[Any, ...]:
    from core.parsing import ocr

    with _lines_lock:
        if (key, page) in _lines:
            return _lines[(key, page)]
    lines = ocr.read(image).lines
    with _lines_lock:
        if len(_lines) >= RENDERED:
            _lines.pop(next(iter(_lines)))
        _lines[(key, page)] = lines
    return lines
