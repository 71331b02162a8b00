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


def test_an_answer_keeps_its_formatting_but_loads_no_image_and_hides_no_address() -> None:
    from ui.html import answer_markdown

    shown = answer_markdown(
        'Revenue rose **12%** [1]. ![chart](http://127.0.0.1:9/x.png?d=secret "t") See [the report](http://evil.test/a).'
    )
    assert "**12%** [1]" in shown  # emphasis and citations stay
    assert "![" not in shown and "image not shown" in shown and "127\\.0\\.0\\.1\\:9/x\\.png?d=secret" in shown
    assert "the report (http\\://evil\\.test/a)" in shown and "](" not in shown
    by_name = answer_markdown("![logo][l]\n\n[l]: http://evil.test/l.png")
    assert "![" not in by_name and "\\[l\\]\\: http\\://evil" in by_name
    assert answer_markdown("<img src=http://evil.test/i.png>").startswith("\\<img")


def test_a_name_reaches_markdown_as_itself(workbench: Workbench) -> None:
    from tests.app.conftest import PASSWORD, page_as

    workbench.users.create_first_admin("admin", PASSWORD)
    workbench.stores.create(workbench.actor("admin"), "![t](http://127.0.0.1:9/x.png)")
    at = page_as(workbench, "stores", "admin").run()
    said = [str(e.value) for kind in ("markdown", "caption", "warning") for e in getattr(at, kind)]
    assert any("\\!\\[t\\]\\(http\\://127\\.0\\.0\\.1\\:9/x\\.png\\)" in s for s in said), said
    assert not any("![t](http" in s for s in said)
