"""File bytes -> ParsedDocument, one module per family of formats, chosen by file extension."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from pathlib import PurePath

from core.errors import ParseError, UnsupportedFileType, WorkbenchError
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
}


def supported_extensions() -> list[str]:
    return sorted(PARSERS)


def parser_for(filename: str) -> Parser:
    extension = PurePath(filename).suffix.lower()
    target = PARSERS.get(extension)
    if target is None:
        what = f"'{extension}' files" if extension else "files without an extension"
        raise UnsupportedFileType(
            f"{filename}: {what} are not supported. Supported types: {', '.join(supported_extensions())}."
        )
    module_name, function = target.split(":")
    parser: Parser = getattr(importlib.import_module(module_name), function)
    return parser


def parse(filename: str, data: bytes) -> ParsedDocument:
    """Turn a file into text with its locations, or raise a WorkbenchError that names the file and why."""
    parser = parser_for(filename)
    if not data:
        raise ParseError(f"{filename} is empty (0 bytes); there is nothing to read.")
    try:
        parsed = parser(filename, data)
    except WorkbenchError:
        raise
    except Exception as exc:  # any library failure on hostile input becomes a per-file message
        log.warning("parser failed on %s: %r", filename, exc)
        raise ParseError(
            f"{filename} could not be read: the file is damaged or not a valid {PurePath(filename).suffix.lower()} file ({type(exc).__name__})."
        ) from exc
    if not parsed.text.strip():
        raise ParseError(f"{filename} contains no text.")
    return parsed
