"""HTML: the visible text only, headings kept as sections; scripts, styles and navigation removed."""

from __future__ import annotations

import re
from typing import Any

from core.parsing.document import Part, assemble
from core.records import ParsedDocument

NOISE = [
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "canvas",
    "iframe",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "button",
    "select",
]
NOISE_ROLES = re.compile(r"navigation|banner|contentinfo|search|menu")
HEADING_MARK = "\x00H"
BLOCKS = [
    "p",
    "div",
    "li",
    "br",
    "tr",
    "pre",
    "blockquote",
    "section",
    "article",
    "dt",
    "dd",
    "figcaption",
    "caption",
    "table",
    "ul",
    "ol",
]


def html_to_parts(markup: bytes | str) -> tuple[list[Part], str | None]:
    """Sections of visible text split at headings, and the page title."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "lxml")
    title = " ".join(soup.title.get_text().split()) if soup.title else None
    for tag in soup(NOISE):
        tag.decompose()
    hidden: Any = [{"role": NOISE_ROLES}, {"aria-hidden": "true"}]
    for attrs in hidden:
        for tag in soup.find_all(attrs=attrs):
            tag.decompose()
    for row in soup.find_all("tr"):
        cells = [" ".join(c.get_text(" ").split()) for c in row.find_all(["td", "th"])]
        row.replace_with(soup.new_string("\n" + " | ".join(c for c in cells) + "\n"))
    for level in range(1, 7):
        for heading in soup.find_all(f"h{level}"):
            text = " ".join(heading.get_text(" ").split())
            heading.replace_with(soup.new_string(f"\n{HEADING_MARK}{level}\x00{text}\n" if text else "\n"))
    for block in soup.find_all(BLOCKS):
        block.insert_before("\n")
        block.insert_after("\n")
    root = soup.body or soup
    parts: list[Part] = []
    path: list[tuple[int, str]] = []
    lines: list[str] = []

    def flush() -> None:
        if lines:
            parts.append(Part("\n".join(lines), heading=" > ".join(h for _, h in path) or None))
            lines.clear()

    for raw in root.get_text().split("\n"):
        line = " ".join(raw.split()) if not raw.startswith(HEADING_MARK) else raw
        if line.startswith(HEADING_MARK):
            level_text, text = line[len(HEADING_MARK) :].split("\x00", 1)
            flush()
            level = int(level_text)
            path = [(lvl, h) for lvl, h in path if lvl < level] + [(level, text)]
            lines.append("#" * level + " " + text)
        elif line:
            lines.append(line)
    flush()
    return parts, title


def parse_html(filename: str, data: bytes) -> ParsedDocument:
    parts, title = html_to_parts(data)
    return assemble(filename, parts, title=title)


def html_to_text(markup: str) -> str:
    parts, _ = html_to_parts(markup)
    return "\n\n".join(p.text for p in parts)
