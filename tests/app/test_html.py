"""The HTML the pages draw themselves: query words marked, overlaps shown, and every piece of text escaped."""

from __future__ import annotations

from core.options import ChunkSettings
from core.workbench import Workbench
from ui.html import highlight, marked_html


def test_query_terms_are_marked_and_everything_else_escaped() -> None:
    html = highlight("The <b>dividend</b> per share; Dividends rose.", "What dividend per share?")
    assert html == ("The &lt;b&gt;<mark>dividend</mark>&lt;/b&gt; per <mark>share</mark>; <mark>Dividends</mark> rose.")
    assert highlight("a < b", "") == "a &lt; b"


def test_the_marked_preview_labels_chunks_highlights_overlaps_and_escapes(workbench: Workbench) -> None:
    text = ("<b>Sentence number one about pumps.</b> " * 40).encode()
    result = workbench.documents.preview(
        workbench.actor("admin"), "notes.txt", text, chunking=ChunkSettings(size=200, overlap=40)
    )
    html = marked_html(result, limit=3)
    assert html.count("Chunk ") >= 3 and "Chunk 1 · " in html and "Chunk 4" not in html
    assert "<b>Sentence" not in html and "&lt;b&gt;Sentence" in html  # document text is escaped
    assert html.count('title="shared with chunk') >= 2  # the overlaps are marked on both sides
    assert f"… and {len(result.chunks) - 3:,} more chunks." in html
