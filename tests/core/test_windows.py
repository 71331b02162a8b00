"""Windows: every chunk carries its document, period, section and page title, table rows keep their column
headers, and nothing is longer than the embedding model reads."""

from __future__ import annotations

import itertools

import pytest

from core import windows as windows_module
from core.embedding import get_embedder
from core.ingest import Upload
from core.options import ChunkSettings, SearchOptions, Unit
from core.parsing.pdf import parse_pdf
from core.records import Chunk
from core.windows import document_period, document_title, windows
from core.workbench import Workbench
from tests.conftest import make_pdf

MINILM = "local/all-minilm-l6-v2"
COVER = "UNITED STATES\nFORM 10-K\nFor the fiscal year ended December 31, 2018\nACME INDUSTRIES INC."
INDEX = "Table of Contents\nItem 1. Business 3\nItem 7. Management's Discussion 20\nItem 8. Financial Statements 40"
ROWS = [f"Line item number {i} of operating activities {1000 + i:,} {900 + i:,} {800 + i:,}" for i in range(60)]
CASH = "\n".join(["Item 8. Financial Statements", "Consolidated Statement of Cash Flows", "(Millions)",
                  "2018 2017 2016", *ROWS])  # fmt: skip
PROSE = "Item 7. Management's Discussion\nOverview\n" + "Revenue grew in every segment this year. " * 60


@pytest.fixture(scope="module")
def filing() -> list[Chunk]:
    data = make_pdf([COVER, INDEX, PROSE, CASH], title="10-K 2018 Acme")
    parsed = parse_pdf("ACME_2018_10K.pdf", data)
    embedder = get_embedder(MINILM)
    return windows(
        parsed,
        document_id="d",
        settings=ChunkSettings(),
        token_spans=embedder.token_spans,
        window=embedder.window_tokens,
    )


def test_every_window_names_its_section_and_page(filing: list[Chunk]) -> None:
    cash = [c for c in filing if c.page == 4]
    assert len(cash) > 2
    for chunk in cash:
        assert chunk.header.startswith("Item 8. Financial Statements")
        assert "ACME" not in chunk.header  # the filing is named at the document level, not in every window
        assert "Consolidated Statement of Cash Flows" in chunk.header
        assert chunk.header not in chunk.text  # the header is embedded and indexed, not shown as the text
    prose = [c for c in filing if c.page == 3]
    assert prose and all("Item 7. Management's Discussion" in c.header for c in prose)


def test_an_index_page_does_not_open_the_sections_it_lists(filing: list[Chunk]) -> None:
    index = [c for c in filing if c.page == 2]
    assert index and all("Item" not in c.header for c in index)


def test_table_rows_keep_their_column_headers_and_unit(filing: list[Chunk]) -> None:
    cash = [c for c in filing if c.page == 4]
    first, later = cash[0], cash[1:]
    assert "2018 2017 2016" in first.text and first.context == ""
    for chunk in later:
        assert chunk.context == "(Millions) 2018 2017 2016"
        assert chunk.content.startswith("(Millions) 2018 2017 2016\n")  # what the analyst sees


def test_no_window_is_longer_than_the_model_reads_and_no_text_is_lost(filing: list[Chunk]) -> None:
    embedder = get_embedder(MINILM)
    window = embedder.window_tokens
    assert window is not None
    assert all(len(embedder.token_spans(c.embedded)) + 2 <= window for c in filing)
    assert [c.chunk_index for c in filing] == list(range(len(filing)))
    for page in {c.page for c in filing}:
        spans = sorted((c.start, c.end) for c in filing if c.page == page)
        assert all(b[0] <= a[1] + 1 for a, b in itertools.pairwise(spans))  # windows touch or overlap


def test_a_long_block_without_breaks_becomes_several_windows_each_with_the_header() -> None:
    parsed = parse_pdf("notes.pdf", make_pdf(["Heading of the page\n" + "x" * 3000]))
    embedder = get_embedder(MINILM)
    tokens = windows(parsed, document_id="d", settings=ChunkSettings(size=4000, overlap=0),
                     token_spans=embedder.token_spans, window=embedder.window_tokens)  # fmt: skip
    assert len(tokens) > 1 and all(c.header == "Heading of the page" for c in tokens)


def test_the_document_and_period_parts_are_there_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(windows_module, "HEADER_PARTS", ("title", "period", "section", "page"))
    parsed = parse_pdf("ACME_2018_10K.pdf", make_pdf([COVER, CASH], title="10-K 2018 Acme"))
    assert document_period(parsed) == "fiscal year ended December 31, 2018"
    chunks = windows(parsed, document_id="d", settings=ChunkSettings(), token_spans=None, window=None)
    cash = [c for c in chunks if c.page == 2]
    assert cash[0].header.startswith("ACME 2018 10K (10-K 2018 Acme) · fiscal year ended December 31, 2018 · Item 8")


@pytest.mark.parametrize(
    ("filename", "title", "expected"),
    [
        ("3M_2018_10K.pdf", None, "3M 2018 10K"),
        ("12345.txt", None, ""),
        ("a1b2c3d4e5f6.pdf", "Annual report", "Annual report"),
    ],
)
def test_a_documents_title_comes_from_its_name_and_its_own_title(
    filename: str, title: str | None, expected: str
) -> None:
    parsed = parse_pdf(filename, make_pdf(["text"], title=title))
    assert document_title(parsed) == expected


def test_a_search_finds_a_page_by_its_filing_and_shows_the_window_without_the_header(workbench: Workbench) -> None:
    admin = workbench.actor("admin")
    workbench.stores.create(admin, "filings")
    data = make_pdf([COVER, INDEX, PROSE, CASH], title="10-K 2018 Acme")
    workbench.documents.ingest(admin, "filings", [Upload("ACME_2018_10K.pdf", data)])
    hits = workbench.search.run(
        admin,
        "filings",
        "statement of cash flows: line item number 42 of operating activities",
        options=SearchOptions(unit=Unit.PAGE),
    )
    assert hits[0].page == 4 and hits[0].windows > 1  # the page, scored by its best window
    assert len({(h.document_id, h.page) for h in hits}) == len(hits)  # pages are distinct
    assert "Consolidated Statement of Cash Flows" in hits[0].header and "ACME" not in hits[0].text
    chunks = workbench.search.run(
        admin,
        "filings",
        "statement of cash flows: line item number 42 of operating activities",
        options=SearchOptions(unit=Unit.CHUNK),
    )
    assert len([h for h in chunks if h.page == 4]) > 1
