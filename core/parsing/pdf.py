"""PDF: text per page with pypdfium2 (fast), pypdf as the fallback for files PDFium will not open."""

from __future__ import annotations

import ctypes
import io
import logging
import re
import threading

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from core.errors import ParseError
from core.parsing.document import Part, assemble
from core.records import ParsedDocument

log = logging.getLogger(__name__)

_pdfium_lock = threading.Lock()  # PDFium is not thread-safe
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Characters drawn less than this high (points, as on the page) are not meant to be read: filings converted for
# EDGAR carry such fragments (a 1-point "low" opens 3M's 2018 10-K, ahead of its title). Footnotes are 7+ points.
MIN_READABLE_POINTS = 2.0


def parse_pdf(filename: str, data: bytes) -> ParsedDocument:
    if not data.lstrip()[:5].startswith(b"%PDF"):
        raise ParseError(f"{filename} is not a PDF (it does not start with %PDF); it may be damaged or misnamed.")
    try:
        pages, title = _pdfium_pages(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            pages, title = _pypdf_pages(filename, data, encrypted=True)
        else:
            log.info("pdfium could not open %s (%s); trying pypdf", filename, exc)
            pages, title = _pypdf_pages(filename, data, encrypted=False)
    return _document(filename, pages, title)


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub(" ", text)


def _pdfium_pages(data: bytes) -> tuple[list[str], str | None]:
    with _pdfium_lock:
        pdf = pdfium.PdfDocument(data)
        try:
            title = (pdf.get_metadata_dict().get("Title") or "").strip() or None
            pages = []
            for index in range(len(pdf)):
                page = pdf[index]
                textpage = page.get_textpage()
                pages.append(_clean(_readable(textpage)))
                textpage.close()
                page.close()
        finally:
            pdf.close()
    return pages, title


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


def _document(filename: str, pages: list[str], title: str | None) -> ParsedDocument:
    if not pages:
        raise ParseError(f"{filename} has no pages.")
    empty = [n for n, text in enumerate(pages, start=1) if not text.strip()]
    if len(empty) == len(pages):
        raise ParseError(
            f"{filename} has no text layer (it looks like a scan). It needs OCR or a vision model before it can be searched."
        )
    warnings = []
    if empty:
        listed = ", ".join(map(str, empty[:10])) + (" ..." if len(empty) > 10 else "")
        warnings.append(f"{len(empty)} of {len(pages)} pages have no text layer (pages {listed}); they may need OCR.")
    parts = [Part(text, page=number) for number, text in enumerate(pages, start=1)]
    return assemble(filename, parts, title=title, page_count=len(pages), warnings=warnings)
