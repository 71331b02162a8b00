"""Plain text and Markdown."""

from __future__ import annotations

import re

from core.errors import ParseError
from core.parsing.document import Part, assemble
from core.records import ParsedDocument

HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
FENCE = re.compile(r"^\s*(```|~~~)")
WESTERN = ("cp1252", "latin_1", "iso8859_15")
WESTERN_MARGIN = 0.15  # how much more "chaos" a Western decoding may show and still be preferred


def decode(filename: str, data: bytes) -> str:
    """UTF-8 (with or without BOM) first; otherwise the encoding charset-normalizer finds."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = _guess_decode(filename, data)
    if "\x00" in text:
        raise ParseError(f"{filename} is not a text file (it looks binary).")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _guess_decode(filename: str, data: bytes) -> str:
    """Decode with the encoding charset-normalizer finds, preferring Windows-1252 among equally plausible ones.

    Western European office files are by far the most common non-UTF-8 text; statistics alone often
    pick a Baltic or Central European code page for them, which turns 'coûte' into 'coūte'.
    """
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        raise ParseError(
            f"{filename} is not a text file (it looks binary: its bytes match no known character encoding)."
        )
    best = matches[0]
    chosen = next((m for m in matches if m.encoding in WESTERN and m.chaos <= best.chaos + WESTERN_MARGIN), best)
    return str(chosen)


def parse_text(filename: str, data: bytes) -> ParsedDocument:
    return assemble(filename, [Part(decode(filename, data))])


def parse_markdown(filename: str, data: bytes) -> ParsedDocument:
    """Sections follow ATX headings (outside code fences); each carries its heading path."""
    text = decode(filename, data)
    parts: list[Part] = []
    path: list[tuple[int, str]] = []
    lines: list[str] = []
    in_fence = False
    title = None

    def flush() -> None:
        if lines:
            parts.append(Part("\n".join(lines), heading=" > ".join(h for _, h in path) or None))
            lines.clear()

    for line in text.split("\n"):
        if FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else HEADING.match(line)
        if match:
            flush()
            level, heading = len(match.group(1)), match.group(2).strip()
            path = [(lvl, h) for lvl, h in path if lvl < level] + [(level, heading)]
            title = title or (heading if level == 1 else None)
        lines.append(line)
    flush()
    return assemble(filename, parts, title=title)
