from __future__ import annotations

import pytest

from core.errors import InvalidInput, ParseError
from core.ingest import Upload
from core.options import ChunkSettings
from core.workbench import Workbench
from tests.conftest import filing_pages, make_pdf


def test_preview_matches_what_ingest_writes_and_writes_nothing(workbench: Workbench) -> None:
    data = make_pdf(filing_pages(4))
    settings = ChunkSettings(size=300, overlap=40)
    preview = workbench.documents.preview(workbench.actor("admin"), "filing.pdf", data, chunking=settings)
    assert preview.parsed.page_count == 4
    assert preview.chunks[0].page == 1 and preview.chunks[-1].page == 4
    for chunk in preview.chunks:
        assert preview.parsed.text[chunk.start : chunk.end] == chunk.text
    for start, end in preview.overlaps:
        assert 0 < end - start <= 40
    assert workbench.stores.visible(workbench.actor("admin")) == [] and workbench.catalog.usage() == []
    workbench.stores.create(workbench.actor("admin"), "kb", chunking=settings)
    [result] = workbench.documents.ingest(workbench.actor("admin"), "kb", [Upload("filing.pdf", data)])
    assert result.chunks == len(preview.chunks)


def test_moving_the_slider_reuses_the_parse(workbench: Workbench) -> None:
    data = make_pdf(filing_pages(3))
    first = workbench.documents.preview(
        workbench.actor("admin"), "f.pdf", data, chunking=ChunkSettings(size=500, overlap=0)
    )
    second = workbench.documents.preview(
        workbench.actor("admin"), "f.pdf", data, chunking=ChunkSettings(size=200, overlap=20)
    )
    assert not first.from_cache and second.from_cache
    assert second.parsed is first.parsed
    assert len(second.chunks) > len(first.chunks)


def test_preview_cuts_chunks_longer_than_the_model_reads_into_windows(workbench: Workbench) -> None:
    text = ("word " * 2000).encode()
    wide = workbench.documents.preview(
        workbench.actor("admin"), "long.txt", text, chunking=ChunkSettings(size=4000, overlap=0)
    )
    narrow = workbench.documents.preview(
        workbench.actor("admin"), "long.txt", text, chunking=ChunkSettings(size=500, overlap=0)
    )
    # 4,000 characters are some 800 tokens: each of the three chunks becomes windows the model reads whole
    assert len(wide.chunks) > 3 and wide.over_window == 0
    embedder = workbench.services.embedder(workbench.settings.default_embedding)
    assert all(len(embedder.token_spans(c.embedded)) + 2 <= 256 for c in wide.chunks)
    assert len(narrow.chunks) == 20 and narrow.over_window == 0


def test_token_preview_uses_the_embedding_tokenizer(workbench: Workbench) -> None:
    preview = workbench.documents.preview(
        workbench.actor("admin"), "t.txt", ("tokenisation " * 400).encode(), chunking=ChunkSettings("tokens", 100, 10)
    )  # type: ignore[arg-type]
    assert preview.over_window == 0 and len(preview.chunks) > 5


def test_preview_refuses_bad_files_like_ingest(workbench: Workbench) -> None:
    with pytest.raises(ParseError, match="broken.pdf"):
        workbench.documents.preview(workbench.actor("admin"), "broken.pdf", b"%PDF-1.4 junk", chunking=ChunkSettings())
    small = Workbench(workbench.settings.replace(max_upload_mb=1))
    with pytest.raises(InvalidInput, match="over the 1 MB upload limit"):
        small.documents.preview(small.actor("admin"), "big.txt", b"x" * (2 * 2**20), chunking=ChunkSettings())
