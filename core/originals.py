"""The original files of PDF documents, kept beside the store so that a cited page can be shown as the page itself,
with the cited passage outlined (rendered with pypdfium2)."""

from __future__ import annotations

import functools
import io
import logging
import shutil
from pathlib import Path

import pypdfium2 as pdfium

log = logging.getLogger(__name__)

KEPT = (".pdf",)  # formats whose pages can be shown
SCALE = 1.6  # 115 dpi: a table's figures stay legible without a huge image
PASSAGE_CHARS = 60  # the cited passage is found on the page by its first words
OUTLINE = (255, 140, 0)
RENDERED = 32  # pages kept rendered (about 70 KB each)


class Originals:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, store_id: str, document_id: str) -> Path:
        return self.folder / store_id / f"{document_id}.pdf"

    def keep(self, store_id: str, document_id: str, filename: str, data: bytes) -> None:
        if Path(filename).suffix.lower() not in KEPT:
            return
        target = self.path(store_id, document_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def forget(self, store_id: str, document_ids: list[str]) -> None:
        for document_id in document_ids:
            self.path(store_id, document_id).unlink(missing_ok=True)

    def drop(self, store_id: str) -> None:
        shutil.rmtree(self.folder / store_id, ignore_errors=True)

    def page_png(self, store_id: str, document_id: str, page: int, passage: str = "") -> bytes | None:
        """Page `page` (1-based) as a PNG with the passage outlined where it is found; None when not kept."""
        path = self.path(store_id, document_id)
        if not path.is_file():
            return None
        return _rendered(path, path.stat().st_mtime_ns, page, passage)


@functools.lru_cache(maxsize=RENDERED)
def _rendered(path: Path, _version: int, page: int, passage: str) -> bytes | None:
    """A page rendered once: the chat page draws every cited page again on each rerun. `_version` (the file's
    mtime) keeps a replaced file from being served from the cache."""
    pdf = pdfium.PdfDocument(path)
    try:
        if not 1 <= page <= len(pdf):
            return None
        sheet = pdf[page - 1]
        image = sheet.render(scale=SCALE).to_pil().convert("RGB")
        box = _passage_box(sheet, passage)
        if box is not None:
            from PIL import ImageDraw

            height = sheet.get_height()
            left, bottom, right, top = box
            frame = [
                (left - 3) * SCALE,
                (height - top - 3) * SCALE,
                (right + 3) * SCALE,
                (height - bottom + 3) * SCALE,
            ]
            ImageDraw.Draw(image).rectangle(frame, outline=OUTLINE, width=3)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()
    except pdfium.PdfiumError as exc:
        log.warning("could not render page %d of %s: %s", page, path.name, exc)
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
