"""Windows: what each chunk is embedded and indexed with, so that it reads on its own and fits the model.

A chunk cut from page 60 of a 10-K says "Purchases of property, plant and equipment (PP&E) (1,577) (1,373)":
not whose, which year, or in what unit. So every window gets

- a **header**, embedded and indexed with it (not shown as its text): the current section (a 10-K's Item, a
  Note) and the page's title lines ("Consolidated Statement of Cash Flows"); the document's name and the period
  it reports on are measured levers (HEADER_PARTS), off by default;
- a table's **column header** (years, units), shown with it, when it starts below that header on the same page;
- a **size that fits the embedding model**: a chunk whose header and text are longer than the model's window
  is cut into token windows, each with the header, so that nothing is silently dropped from its vector.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePath

from core.chunking import Tokens, chunk_document, split_text
from core.options import ChunkSettings
from core.parsing.limits import DEFAULT_MAX_CHUNKS
from core.records import Chunk, ParsedDocument

TokenSpans = Callable[[str], list[tuple[int, int]]]

HEADER_SHARE = 5  # a header takes at most a fifth of the model's window; the rest is the chunk's own text
HEADER_CHARS = 240  # without a known window: about 50 tokens
SEPARATOR = " · "
# What a header says. The document's name and period ("title", "period") are left out: embedded with every window
# they made the windows of one filing alike and the evidence page harder to tell from its neighbours (FinanceBench
# dev page-recall@5 0.28 and @10 0.39 with them, 0.36 and 0.44 without; bench/longdocs.py --header). The filing a question names is
# found at the document level instead (core.retrieval.named_documents).
HEADER_PARTS: tuple[str, ...] = ("section", "page")

_PERIOD = re.compile(
    r"\b(?:fiscal\s+)?(?:year|period|quarter)\s+ended\s+"
    r"((?:January|February|March|April|May|June|July|August|September|October|November|December)\s+\d{1,2},?\s+(?:19|20)\d{2})",
    re.IGNORECASE,
)
_SECTION = re.compile(r"^\s*(item\s+\d{1,2}[a-c]?)\b[.:\s]*(.*)$", re.IGNORECASE)
_NOTE = re.compile(r"^\s*(note\s+\d{1,2})\b[.:\s]*(.*)$", re.IGNORECASE)
_YEAR = re.compile(r"^\(?(?:fiscal\s*)?(?:FY)?((?:19|20)\d{2})\)?[,.]?$", re.IGNORECASE)
_UNIT = re.compile(r"\b(?:in\s+)?(?:millions|thousands|billions)\b|except per share|\(\$\)|\bin \$", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z]{2,}")
INDEX_PAGE_HEADINGS = 3  # a page naming this many Items or Notes is a table of contents, not their start


@dataclass(frozen=True)
class _Line:
    start: int
    end: int
    text: str


def windows(
    parsed: ParsedDocument,
    *,
    document_id: str,
    settings: ChunkSettings,
    token_spans: TokenSpans | None,
    window: int | None,
    max_chunks: int = DEFAULT_MAX_CHUNKS,
) -> list[Chunk]:
    """The document's chunks as ingest embeds them: chunked by the settings, then given headers and fitted."""
    chunks = chunk_document(
        parsed, document_id=document_id, settings=settings, token_spans=token_spans, max_chunks=max_chunks
    )
    return with_windows(parsed, chunks, token_spans=token_spans, window=window)


def with_windows(
    parsed: ParsedDocument,
    chunks: Sequence[Chunk],
    *,
    token_spans: TokenSpans | None = None,
    window: int | None = None,
) -> list[Chunk]:
    """The chunks with their headers and table headers, cut to fit `window` tokens (when known), renumbered."""
    if not chunks:
        return []
    if token_spans is not None:
        token_spans = _remembering(token_spans)  # headers and table headers repeat on every window of a page
    title = document_title(parsed)
    period = document_period(parsed)
    pages = _Pages(parsed)
    limit = HEADER_CHARS
    fitted: list[Chunk] = []
    for chunk in chunks:
        parts = {
            "title": title,
            "period": period,
            "section": pages.section_at(chunk.start) or chunk.heading or "",
            "page": pages.title_of(chunk),
        }
        header = SEPARATOR.join(parts[name] for name in HEADER_PARTS if parts[name])
        header = header[:limit].rstrip()
        reserve = max((len(token_spans(h)) for h in pages.column_headers(chunk.page)), default=0) if token_spans else 0
        for piece in _fit(parsed, replace(chunk, header=header), token_spans, window, reserve=reserve):
            fitted.append(replace(piece, context=chunk.context or pages.table_header_before(piece)))
    return [replace(c, chunk_index=i) for i, c in enumerate(fitted)]


def document_title(parsed: ParsedDocument) -> str:
    """The file name as words (3M_2018_10K.pdf: '3M 2018 10K'), with the document's own title when it has one;
    a name without words (an id) says nothing and is left out."""
    stem = re.sub(r"[_\s]+", " ", PurePath(parsed.filename).stem).strip()
    name = stem if re.search(r"[A-Za-z]", stem) and not re.fullmatch(r"[0-9a-fA-F-]{8,}", stem) else ""
    own = (parsed.title or "").strip()
    if own and _WORD.search(own) and own.lower() != stem.lower():
        return f"{name} ({own[:100]})" if name else own[:100]
    return name


def document_period(parsed: ParsedDocument) -> str:
    """The period the document reports on, as its first pages state it ('year ended December 31, 2018'), or ''."""
    match = _PERIOD.search(parsed.text, 0, min(len(parsed.text), 20_000))
    if not match:
        return ""
    return re.sub(r"\s+", " ", match.group(0)).strip()


class _Pages:
    """Per page: its lines, title lines, table header lines; through the document: the current Item and Note."""

    def __init__(self, parsed: ParsedDocument) -> None:
        self.text = parsed.text
        self.lines: dict[int, list[_Line]] = {}
        for section in parsed.sections:
            if section.page is None:
                continue
            self.lines.setdefault(section.page, []).extend(_lines(parsed.text, section.start, section.end))
        self.running = self._running_lines()
        self.headings = self._headings()  # (offset, 'Item 8 · Note 9. ...') in text order
        self.heading_starts = [h[0] for h in self.headings]
        self._tables: dict[int, list[tuple[int, str]]] = {}

    def _running_lines(self) -> set[str]:
        """Lines at the top of many pages (running heads: 'Table of Contents', the company name): no title."""
        tops = Counter(line.text.lower() for lines in self.lines.values() for line in lines[:4])
        pages = max(len(self.lines), 1)
        return {t for t, n in tops.items() if n >= 3 and n / pages > 0.2}

    def _headings(self) -> list[tuple[int, str]]:
        found: list[tuple[int, str]] = []
        item, note = "", ""
        for _page, lines in sorted(self.lines.items()):
            matches = [(line, _SECTION.match(line.text), _NOTE.match(line.text)) for line in lines]
            if sum(1 for _, s, n in matches if s or n) >= INDEX_PAGE_HEADINGS:
                continue
            for line, section, note_match in matches:
                if section:
                    item, note = _heading(section), ""
                elif note_match:
                    note = _heading(note_match)
                else:
                    continue
                found.append((line.start, SEPARATOR.join(p for p in (item, note) if p)))
        return found

    def section_at(self, offset: int) -> str:
        import bisect

        index = bisect.bisect_right(self.heading_starts, offset) - 1
        return self.headings[index][1] if index >= 0 else ""

    def title_of(self, chunk: Chunk) -> str:
        """The page's first short lines that name it ('Consolidated Statement of Cash Flows'), running heads aside."""
        titles: list[str] = []
        for line in self.lines.get(chunk.page, [])[:6] if chunk.page is not None else []:
            words = _WORD.findall(line.text)
            if line.text.lower() in self.running or not words or _SECTION.match(line.text) or _NOTE.match(line.text):
                continue  # a running head, a page number, or a heading (the section part of the header has it)
            if len(line.text) > 90 or _numbers(line.text) > len(words) or line.text.rstrip().endswith((".", ",", ";")):
                break  # prose or a table row: the title lines are over
            titles.append(line.text.strip())
            if len(titles) == 2:
                break
        return SEPARATOR.join(titles)

    def column_headers(self, page: int | None) -> list[str]:
        """The page's table column headers, each with the unit line above it when there is one."""
        return [h for _, h in self._column_headers(page)]

    def _column_headers(self, page: int | None) -> list[tuple[int, str]]:
        if page is None:
            return []
        if page not in self._tables:
            lines = self.lines.get(page, [])
            found = []
            for index, line in enumerate(lines):
                if _is_column_header(line.text):
                    above = (lines[j].text for j in range(index - 1, max(index - 3, -1), -1))
                    unit = next((t for t in above if _UNIT.search(t) and len(t) <= 80), "")
                    found.append((line.start, f"{unit} {line.text}" if unit and unit not in line.text else line.text))
            self._tables[page] = found
        return self._tables[page]

    def table_header_before(self, chunk: Chunk) -> str:
        """The column header (years, with the unit line above it) of a table this chunk starts inside, or ''."""
        before = [(start, h) for start, h in self._column_headers(chunk.page) if start < chunk.start]
        return before[-1][1] if before else ""


def _remembering(token_spans: TokenSpans) -> TokenSpans:
    known: dict[str, list[tuple[int, int]]] = {}

    def spans(text: str) -> list[tuple[int, int]]:
        if len(text) > 400:
            return token_spans(text)
        if text not in known:
            known[text] = token_spans(text)
        return known[text]

    return spans


def _heading(match: re.Match[str]) -> str:
    label, rest = match.group(1), match.group(2).strip()
    label = label[0].upper() + label[1:].lower()
    rest = re.sub(r"\s+\d+$", "", rest)[:60].strip()  # an index line's page number
    return f"{label}. {rest}" if rest else label


def _lines(text: str, start: int, end: int) -> list[_Line]:
    lines = []
    position = start
    for raw in text[start:end].split("\n"):
        stripped = raw.strip()
        if stripped:
            offset = position + raw.index(stripped[0])
            lines.append(_Line(offset, offset + len(stripped), stripped))
        position += len(raw) + 1
    return lines


def _numbers(text: str) -> int:
    return len(re.findall(r"\(?\$?\d[\d,.]*\)?%?", text))


def _is_column_header(text: str) -> bool:
    """A line that names a table's columns by year: '(Millions) 2018 2017 2016', 'Fiscal 2022 Fiscal 2021'."""
    if len(text) > 120:
        return False
    tokens = text.replace("|", " ").split()
    years = {m.group(1) for t in tokens if (m := _YEAR.match(t))}
    others = [t for t in tokens if not _YEAR.match(t) and t.lower() not in ("fiscal", "fy", "and", "$", "%")]
    return len(years) >= 2 and len(others) <= 5 and not any(re.fullmatch(r"\(?\$?[\d,.]+\)?", t) for t in others)


def _fit(
    parsed: ParsedDocument, chunk: Chunk, token_spans: TokenSpans | None, window: int | None, *, reserve: int = 0
) -> list[Chunk]:
    """The chunk, or, when its header and content exceed the model's window, its text in windows that fit."""
    if token_spans is None or window is None:
        return [chunk]
    header_tokens = len(token_spans(chunk.header))
    if header_tokens > window // HEADER_SHARE:  # a long title or section name: keep its start
        spans = token_spans(chunk.header)
        chunk = replace(chunk, header=chunk.header[: spans[window // HEADER_SHARE - 1][1]])
        header_tokens = window // HEADER_SHARE
    context_tokens = len(token_spans(chunk.context)) if chunk.context else reserve
    room = window - header_tokens - context_tokens - 4  # [CLS], [SEP] and the line breaks between the parts
    text_spans = token_spans(chunk.text)
    if len(text_spans) <= room:
        return [chunk]
    shifted = [(s + chunk.start, e + chunk.start) for s, e in text_spans]
    measure = Tokens(shifted, token_spans)
    cuts = split_text(
        parsed.text, size=room, overlap=min(16, room // 8), start=chunk.start, end=chunk.end, measure=measure
    )
    return [replace(chunk, text=parsed.text[s:e], start=s, end=e) for s, e in cuts]
