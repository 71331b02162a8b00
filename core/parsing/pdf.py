"""PDF: text per page with pypdfium2 (fast), pypdf as the fallback for files PDFium will not open."""

from __future__ import annotations

import ctypes
import io
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from core.errors import ParseError
from core.parsing import limits, ocr
from core.parsing.document import Part, assemble
from core.records import ParsedDocument

log = logging.getLogger(__name__)

_pdfium_lock = threading.Lock()  # PDFium is not thread-safe
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Characters drawn less than this high (points, as on the page) are not meant to be read: filings converted for
# EDGAR carry such fragments (a 1-point "low" opens 3M's 2018 10-K, ahead of its title). Footnotes are 7+ points.
MIN_READABLE_POINTS = 2.0


SCANNED_CHARS = 50  # a page with an image and fewer characters than this is read by OCR ("auto")
OCR_DPI = 200  # pages are rendered this sharp for OCR (PP-OCR reads 9-point text well from 150 dpi up)
OCR_MAX_PIXELS = 12_000_000  # ...or less, for a page larger than A3


@dataclass
class Scanned:
    """Pages read by OCR, and their confidence."""

    filename: str
    confidence: dict[int, float] = field(default_factory=dict)  # page number -> mean confidence
    first: int = 0  # read only this many (a preview); 0: all
    skipped: int = 0  # pages a preview left unread
    on_page: Callable[[int, int], None] | None = None  # (pages read, pages to read)


def parse_pdf(
    filename: str,
    data: bytes,
    ocr_mode: str = "auto",
    on_page: Callable[[int, int], None] | None = None,
    *,
    first: int = 0,
) -> ParsedDocument:
    if not data.lstrip()[:5].startswith(b"%PDF"):
        raise ParseError(f"{filename} is not a PDF (it does not start with %PDF); it may be damaged or misnamed.")
    scanned = Scanned(filename, on_page=on_page, first=first)
    try:
        pages, title = _pdfium_pages(data, ocr_mode, scanned)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            pages, title = _pypdf_pages(filename, data, encrypted=True)
        else:
            log.info("pdfium could not open %s (%s); trying pypdf", filename, exc)
            pages, title = _pypdf_pages(filename, data, encrypted=False)
    return _document(filename, pages, title, scanned)


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub(" ", text)


def _pdfium_pages(data: bytes, ocr_mode: str, scanned: Scanned) -> tuple[list[str], str | None]:
    """Text per page; then the pages to read by OCR, each rendered under PDFium's lock and read outside it (another
    file's parsing, or a cited page, does not wait for a whole scan)."""
    with _pdfium_lock:
        pdf = pdfium.PdfDocument(data)
    try:
        with _pdfium_lock:
            title = (pdf.get_metadata_dict().get("Title") or "").strip() or None
            pages, to_read = [], []
            for index in range(len(pdf)):
                page = pdf[index]
                textpage = page.get_textpage()
                pages.append(_clean(_readable(textpage)))
                textpage.close()
                if ocr_mode == "always" or (ocr_mode == "auto" and _scanned(page, pages[-1])):
                    to_read.append(index)
                page.close()
        budget = limits.current()
        if len(to_read) > budget.max_ocr_pages:
            raise ParseError(
                f"{scanned.filename}: {len(to_read):,} pages need OCR, over the {budget.max_ocr_pages:,} a document "
                "may have read (WORKBENCH_MAX_OCR_PAGES); split the scan into smaller files."
            )
        if scanned.first and len(to_read) > scanned.first:
            scanned.skipped, to_read = len(to_read) - scanned.first, to_read[: scanned.first]
        for done, index in enumerate(to_read, start=1):
            with _pdfium_lock:
                page = pdf[index]
                image = _rendered(page)
                page.close()
            started = time.monotonic()
            read = ocr.read(image, where=f"{scanned.filename}, page {index + 1}")
            limits.ocr_page(index + 1, time.monotonic() - started)
            scanned.confidence[index + 1] = read.confidence
            if read.lines:  # nothing read: the page keeps what its text layer had
                pages[index] = _clean(read.text)
            limits.tell(scanned.on_page, done, len(to_read))
    finally:
        with _pdfium_lock:
            pdf.close()
    return pages, title


def _scanned(page: pdfium.PdfPage, text: str) -> bool:
    """A page whose words are drawn as a picture: almost no characters, and an image on it."""
    if len(text.strip()) >= SCANNED_CHARS:
        return False
    return any(True for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2))


def _rendered(page: pdfium.PdfPage) -> Any:
    width, height = page.get_size()
    scale = min(OCR_DPI / 72, (OCR_MAX_PIXELS / max(width * height, 1.0)) ** 0.5)
    return page.render(scale=scale, grayscale=True).to_pil()


def _readable(textpage: pdfium.PdfTextPage) -> str:
    """The page's text without characters drawn too small to read (their box as drawn, scaling included)."""
    text = textpage.get_text_range()
    if len(text) != textpage.count_chars():  # generated characters do not map one to one: keep the text as is
        return text
    box, raw = pdfium_c.FS_RECTF(), textpage.raw
    kept = []
    for index, char in enumerate(text):
        if not char.isspace():
            pdfium_c.FPDFText_GetLooseCharBox(raw, index, ctypes.byref(box))
            if 0 < box.top - box.bottom < MIN_READABLE_POINTS:
                continue
        kept.append(char)
    return "".join(kept)


def _pypdf_pages(filename: str, data: bytes, *, encrypted: bool) -> tuple[list[str], str | None]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ParseError(
                f"{filename} is protected by a password. Remove the password (or print it to a new PDF) and upload it again."
            )
        title = (reader.metadata.title if reader.metadata else None) or None
        return [_clean(page.extract_text() or "") for page in reader.pages], title
    except ParseError:
        raise
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        if encrypted:
            raise ParseError(f"{filename} is protected by a password and could not be opened.") from exc
        raise ParseError(f"{filename} could not be read: the PDF is damaged ({exc}).") from exc


def _document(filename: str, pages: list[str], title: str | None, scanned: Scanned) -> ParsedDocument:
    if not pages:
        raise ParseError(f"{filename} has no pages.")
    empty = [n for n, text in enumerate(pages, start=1) if not text.strip()]
    if len(empty) == len(pages):
        raise ParseError(
            f"{filename} has no text on any page, and OCR found none in its images. Upload a clearer scan, or "
            "describe it with a vision model."
        )
    warnings = ocr_warnings(scanned.confidence)
    if scanned.skipped:
        warnings.append(
            f"This preview read the first {len(scanned.confidence)} scanned pages; the other {scanned.skipped} are "
            "read when the file is added, page by page."
        )
    if empty:
        listed = ", ".join(map(str, empty[:10])) + (" ..." if len(empty) > 10 else "")
        warnings.append(f"{len(empty)} of {len(pages)} pages have no text (pages {listed}).")
    parts = [Part(text, page=number) for number, text in enumerate(pages, start=1)]
    parsed = assemble(filename, parts, title=title, page_count=len(pages), warnings=warnings)
    return replace(parsed, partial=True) if scanned.skipped else parsed


def ocr_warnings(confidence: dict[int, float]) -> list[str]:
    """What the document's status says of its OCR: which pages were read so, and which read poorly."""
    if not confidence:
        return []
    mean = sum(confidence.values()) / len(confidence)
    warnings = [f"Read by OCR: {_pages(list(confidence))} (confidence {mean:.0%})."]
    low = [n for n, c in confidence.items() if c < ocr.LOW_CONFIDENCE]
    if low:
        warnings.append(f"Low OCR confidence on {_pages(low)}: check the text against the page.")
    return warnings


def _pages(numbers: list[int]) -> str:
    shown = ", ".join(map(str, numbers[:10])) + (" ..." if len(numbers) > 10 else "")
    return f"page {shown}" if len(numbers) == 1 else f"{len(numbers)} pages ({shown})"
