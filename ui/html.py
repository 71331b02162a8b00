"""The HTML the pages draw themselves (the rest is Streamlit's): every piece of text in it is escaped."""

from __future__ import annotations

import re
from html import escape

from core.preview import Preview

STOP_WORDS = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "what",
        "does",
        "did",
        "how",
        "are",
        "was",
        "were",
        "this",
        "that",
        "from",
        "into",
        "about",
        "have",
        "has",
        "per",
        "its",
    ]
)


PREVIEW_CHUNKS = 60  # chunks drawn in the page; the counts and the chart cover them all
CHUNK_COLOURS = ("#eef4ff", "#fff6e5")  # alternate, so that neighbouring chunks are told apart
OVERLAP_COLOUR = "#ffd6a5"


def marked_html(result: Preview, *, limit: int = PREVIEW_CHUNKS) -> str:
    """The first chunks as blocks for the upload page: a label (number, location, size) over each chunk's
    text, with the text it shares with its neighbours highlighted. Every piece of text is escaped."""
    blocks = []
    text = result.parsed.text
    chunks = result.chunks[:limit]
    for i, chunk in enumerate(chunks):
        before = result.chunks[i - 1] if i > 0 else None
        after = result.chunks[i + 1] if i + 1 < len(result.chunks) else None
        head_end = min(before.end, chunk.end) if before is not None and before.end > chunk.start else chunk.start
        tail_start = max(after.start, head_end) if after is not None and after.start < chunk.end else chunk.end
        body = "".join(
            (
                f'<span style="background:{OVERLAP_COLOUR}" title="shared with chunk {i}">{escape(text[chunk.start : head_end])}</span>'
                if head_end > chunk.start
                else "",
                escape(text[head_end:tail_start]),
                f'<span style="background:{OVERLAP_COLOUR}" title="shared with chunk {i + 2}">{escape(text[tail_start : chunk.end])}</span>'
                if chunk.end > tail_start
                else "",
            )
        )
        context = f'<div style="color:#666;font-style:italic">{escape(chunk.context)}</div>' if chunk.context else ""
        where = f" · {escape(chunk.location)}" if chunk.location else ""
        blocks.append(
            f'<div style="background:{CHUNK_COLOURS[i % 2]};border-left:4px solid #2f6fed;margin:0 0 6px;'
            f'padding:6px 10px;white-space:pre-wrap;font-size:0.85rem">'
            f'<div style="font-weight:600;color:#2f6fed">Chunk {i + 1}{where} · {len(chunk.content):,} characters</div>'
            f"{context}{body}</div>"
        )
    more = len(result.chunks) - len(chunks)
    if more > 0:
        blocks.append(f'<div style="color:#666">… and {more:,} more chunks.</div>')
    return "".join(blocks)


def highlight(text: str, query: str) -> str:
    """The text as HTML with the query's words marked (case-insensitive, whole words; all else escaped)."""
    words = sorted({w for w in re.findall(r"\w{3,}", query.lower()) if w not in STOP_WORDS}, key=len, reverse=True)
    if not words:
        return escape(text)
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\w*", re.IGNORECASE)
    out, last = [], 0
    for match in pattern.finditer(text):
        out += [escape(text[last : match.start()]), f"<mark>{escape(match.group(0))}</mark>"]
        last = match.end()
    out.append(escape(text[last:]))
    return "".join(out)


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def plain(text: str) -> str:
    """Text shown through Markdown as itself: every character Markdown could read as syntax is escaped."""
    return _MARKDOWN.sub(r"\\\1", text)


# What an answer's Markdown may not do: load an image (the browser fetches it as the page draws, which is how an
# injected instruction exfiltrates data), or hide an address behind a link text. Both are shown as plain text.
_TITLE = r"""(?:\s+(?:"[^"]*"|'[^']*'))?"""
_IMAGE = re.compile(r"!\[([^\]]*)\]\(\s*<?([^)\s>]*)>?" + _TITLE + r"\s*\)")
_IMAGE_BY_NAME = re.compile(r"!\[([^\]]*)\]\[([^\]]*)\]")
_LINK = re.compile(r"\[([^\]]+)\]\(\s*<?([^)\s>]*)>?" + _TITLE + r"\s*\)")
_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S.*$", re.MULTILINE)
_TAG = re.compile(r"<[A-Za-z/!]")


def answer_markdown(text: str) -> str:
    """A model's answer with its formatting kept (lists, emphasis, tables), but no image loaded and no address
    hidden: `![x](url)` becomes the words "image not shown" with its address as text, a link shows its address."""
    text = _IMAGE.sub(lambda m: plain(f"[image not shown: {m.group(1) or 'no description'}, {m.group(2)}]"), text)
    text = _IMAGE_BY_NAME.sub(lambda m: plain(f"[image not shown: {m.group(1) or m.group(2)}]"), text)
    text = _LINK.sub(lambda m: f"{m.group(1)} ({plain(m.group(2))})", text)
    text = _DEFINITION.sub(lambda m: plain(m.group(0)), text)
    return _TAG.sub(lambda m: "\\" + m.group(0), text)  # raw HTML is shown, never parsed
