"""File bytes -> ParsedDocument, one module per family of formats, chosen by file extension."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from pathlib import PurePath

from core.errors import ParseError, UnsupportedFileType, WorkbenchError
from core.parsing import limits
from core.parsing.archive import check_archive
from core.parsing.options import ParseOptions
from core.records import ParsedDocument

log = logging.getLogger(__name__)

Parser = Callable[[str, bytes], ParsedDocument]

# extension -> "module:function"; modules are imported on first use.
PARSERS: dict[str, str] = {
    ".txt": "core.parsing.text:parse_text",
    ".text": "core.parsing.text:parse_text",
    ".md": "core.parsing.text:parse_markdown",
    ".markdown": "core.parsing.text:parse_markdown",
    ".pdf": "core.parsing.pdf:parse_pdf",
    ".docx": "core.parsing.docx:parse_docx",
    ".xlsx": "core.parsing.tables:parse_xlsx",
    ".xlsm": "core.parsing.tables:parse_xlsx",
    ".csv": "core.parsing.tables:parse_csv",
    ".tsv": "core.parsing.tables:parse_csv",
    ".pptx": "core.parsing.slides:parse_pptx",
    ".html": "core.parsing.web:parse_html",
    ".htm": "core.parsing.web:parse_html",
    ".eml": "core.parsing.mail:parse_eml",
    ".msg": "core.parsing.mail:parse_msg",
    ".json": "core.parsing.structured:parse_json",
}
IMAGES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".tiff", ".tif")
ZIPPED = (".docx", ".xlsx", ".xlsm", ".pptx")


def supported_extensions() -> list[str]:
    return sorted([*PARSERS, *IMAGES])


def extension(filename: str) -> str:
    return PurePath(filename).suffix.lower()


# What people call the files they most often drop by mistake, to name them in a refusal.
REFUSED_KINDS = {
    "Windows programs": (".exe", ".msi", ".dll", ".com", ".scr"),
    "scripts": (".bat", ".cmd", ".ps1", ".sh", ".js", ".vbs", ".py"),
    "archives": (".zip", ".7z", ".rar", ".tar", ".gz", ".tgz"),
    "videos": (".mp4", ".mov", ".avi", ".mkv", ".webm"),
    "sound files": (".mp3", ".wav", ".m4a", ".flac", ".ogg"),
    "old Office files": (".doc", ".xls", ".ppt"),
    "disk images": (".iso", ".dmg", ".img"),
}
SUPPORTED_IN_WORDS = (
    "PDF, Word (.docx), PowerPoint (.pptx), Excel (.xlsx), CSV, HTML, e-mail (.eml), text, Markdown and images"
)


def refusal(filename: str) -> str | None:
    """Why a file cannot be added, in words an analyst reads at a glance; None when it can."""
    ext = extension(filename)
    if ext in PARSERS or ext in IMAGES:
        return None
    kind = next((k for k, exts in REFUSED_KINDS.items() if ext in exts), None)
    what = f"{kind} ({ext})" if kind else (f"'{ext}' files" if ext else "files without an extension")
    hint = " (save them as .docx, .xlsx or .pptx first)" if kind == "old Office files" else ""
    return f"{filename}: {what} cannot be added{hint}. Supported: {SUPPORTED_IN_WORDS}."


def check_supported(filename: str) -> None:
    if reason := refusal(filename):
        raise UnsupportedFileType(reason)


def parse(filename: str, data: bytes, options: ParseOptions | None = None) -> ParsedDocument:
    """Turn a file into text with its locations, or raise a WorkbenchError that names the file and why."""
    options = options or ParseOptions()
    check_supported(filename)
    if not data:
        raise ParseError(f"{filename} is empty (0 bytes); there is nothing to read.")
    ext = extension(filename)
    try:
        with limits.budget(filename, options.limits):
            parsed = _parse(filename, ext, data, options)
    except WorkbenchError:
        raise
    except RecursionError as exc:
        raise ParseError(f"{filename} could not be read: it is nested too deeply.") from exc
    except MemoryError as exc:
        raise ParseError(f"{filename} needs more memory to read than this machine has; split it.") from exc
    except Exception as exc:  # any library failure on hostile input becomes a per-file message
        log.warning("parser failed on %s: %r", filename, exc)
        raise ParseError(
            f"{filename} could not be read: the file is damaged or not a valid {ext} file ({type(exc).__name__})."
        ) from exc
    if not parsed.text.strip():
        raise ParseError(f"{filename} contains no text.")
    return parsed


def _parse(filename: str, ext: str, data: bytes, options: ParseOptions) -> ParsedDocument:
    if ext in ZIPPED:
        check_archive(filename, data, options)
    if ext in IMAGES:
        from core.parsing.image import parse_image

        return parse_image(filename, data, options)
    if ext == ".pdf":
        from core.parsing.pdf import parse_pdf

        return parse_pdf(filename, data, options.ocr, options.on_page, first=options.ocr_first)
    module_name, function = PARSERS[ext].split(":")
    parser: Parser = getattr(importlib.import_module(module_name), function)
    return parser(filename, data)
