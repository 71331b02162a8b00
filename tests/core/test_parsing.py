from __future__ import annotations

import pytest

from core.errors import ParseError, UnsupportedFileType
from core.parsing import parse
from tests.conftest import filing_pages, make_docx, make_pdf, make_raw_pdf


def test_plain_text_utf8_with_bom() -> None:
    parsed = parse("notes.txt", "\ufeffCafé crème\r\nsecond line".encode())
    assert parsed.text == "Café crème\nsecond line"
    assert parsed.sections[0].page is None


def test_plain_text_in_another_encoding_is_not_mangled() -> None:
    text = "Le café coûte très cher à Genève, déjà réglé. " * 5
    parsed = parse("notes.txt", text.encode("cp1252"))
    assert "café coûte très cher à Genève" in parsed.text


def test_markdown_sections_carry_heading_paths_and_ignore_code_fences() -> None:
    source = "# Guide\nintro\n## Install\nrun it\n```\n# not a heading\n```\n## Use\nclick"
    parsed = parse("guide.md", source.encode())
    assert parsed.title == "Guide"
    assert [s.heading for s in parsed.sections] == ["Guide", "Guide > Install", "Guide > Use"]
    assert "# not a heading" in parsed.text


def test_pdf_text_per_page_with_one_based_page_numbers() -> None:
    pages = filing_pages(4)
    parsed = parse("filing.pdf", make_pdf(pages, title="Annual report"))
    assert parsed.page_count == 4
    assert parsed.title == "Annual report"
    assert [s.page for s in parsed.sections] == [1, 2, 3, 4]
    third = parsed.text[parsed.sections[2].start : parsed.sections[2].end]
    assert "Zebras migrate across the Serengeti" in third


def test_pdf_pages_without_text_are_reported_not_hidden() -> None:
    parsed = parse("mixed.pdf", make_pdf(["Some words on page one.", "", "Words on page three."]))
    assert [s.page for s in parsed.sections] == [1, 3]
    assert parsed.warnings and "pages 2" in parsed.warnings[0]


def test_pdf_text_too_small_to_read_is_left_out() -> None:
    # a 1-point fragment ahead of the title, as in 3M's 2018 10-K; and 3 points halved by the page's matrix
    stray = make_raw_pdf(b"BT /F1 1 Tf 72 780 Td (low) Tj ET BT /F1 12 Tf 72 700 Td (UNITED STATES) Tj ET")
    halved = make_raw_pdf(b"0.5 0 0 0.5 0 0 cm BT /F1 3 Tf 72 780 Td (tiny) Tj ET BT /F1 12 Tf 72 700 Td (Six) Tj ET")
    assert parse("a.pdf", stray).text.strip() == "UNITED STATES"
    assert parse("b.pdf", halved).text.strip() == "Six"


def test_pdf_text_set_at_one_point_and_scaled_up_is_kept() -> None:
    scaled = make_raw_pdf(b"BT /F1 1 Tf 12 0 0 12 72 700 Tm (Scaled up to twelve points) Tj ET")
    assert parse("c.pdf", scaled).text.strip() == "Scaled up to twelve points"


def test_a_pdf_with_no_words_anywhere_says_so() -> None:
    with pytest.raises(ParseError, match="no text on any page, and OCR found none in its images"):
        parse("scan.pdf", make_pdf(["", ""]))  # two squares drawn, no text and no image to read


def test_pdf_with_empty_user_password_opens() -> None:
    parsed = parse("locked.pdf", make_pdf(["Open sesame on the first page."], user_password=""))
    assert "Open sesame" in parsed.text


def test_pdf_with_a_password_gets_a_clear_error() -> None:
    with pytest.raises(ParseError, match="protected by a password"):
        parse("secret.pdf", make_pdf(["Hidden words."], user_password="hunter2"))


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.7\n1 0 obj garbage", b"not a pdf at all", make_pdf(["Truncated later."])[:300]],
    ids=["garbage", "not-pdf", "truncated"],
)
def test_corrupt_pdf_is_a_parse_error_naming_the_file(data: bytes) -> None:
    with pytest.raises(ParseError, match=r"^broken\.pdf"):
        parse("broken.pdf", data)


def test_docx_keeps_headings_and_tables_and_skips_headers() -> None:
    def build(doc) -> None:  # type: ignore[no-untyped-def]
        doc.sections[0].header.paragraphs[0].text = "CONFIDENTIAL HEADER"
        doc.sections[0].footer.paragraphs[0].text = "Page footer"
        doc.add_heading("Travel policy", 1)
        doc.add_paragraph("Book economy class for flights under six hours.")
        doc.add_heading("Limits", 2)
        table = doc.add_table(rows=2, cols=3)
        for cell, text in zip(table.rows[0].cells, ["Item", "Limit", "Limit"], strict=True):
            cell.text = text
        for cell, text in zip(table.rows[1].cells, ["Hotel", "180 EUR", "0"], strict=True):
            cell.text = text
        merged = doc.add_table(rows=1, cols=3)
        merged.cell(0, 0).merge(merged.cell(0, 1)).text = "Spans two"
        merged.cell(0, 2).text = "third"

    parsed = parse("policy.docx", make_docx(build))
    assert parsed.title == "Travel policy"
    assert "# Travel policy" in parsed.text and "## Limits" in parsed.text
    assert "Item | Limit | Limit" in parsed.text
    assert "Hotel | 180 EUR | 0" in parsed.text
    assert "Spans two | third" in parsed.text
    assert "CONFIDENTIAL" not in parsed.text and "footer" not in parsed.text
    assert [(s.heading, s.row, s.unit) for s in parsed.sections] == [
        ("Travel policy", 1, "paragraph"),
        ("Travel policy", 2, "paragraph"),
        ("Travel policy > Limits", 3, "paragraph"),
        ("Travel policy > Limits", 4, "paragraph"),  # a table counts as one paragraph
        ("Travel policy > Limits", 5, "paragraph"),
    ]
    assert parsed.text.startswith("# Travel policy\nBook economy class")  # a paragraph follows on the next line


def test_word_chunks_say_which_paragraphs_they_hold_under_which_heading() -> None:
    from core.chunking import chunk_document
    from core.options import ChunkSettings

    def build(doc) -> None:  # type: ignore[no-untyped-def]
        for n in range(1, 13):
            doc.add_paragraph(f"Paragraph number {n} of the memo says something about budgets and staffing plans.")
        doc.add_heading("Risks", 1)
        doc.add_paragraph("Suppliers may be late.")

    chunks = chunk_document(
        parse("memo.docx", make_docx(build)), document_id="m", settings=ChunkSettings(size=300, overlap=0)
    )
    assert chunks[0].location == "Paragraphs 1–3"
    assert chunks[-1].location == "Paragraphs 10–14"  # runs on past the heading (the recursive strategy)
    heading = chunk_document(
        parse("memo.docx", make_docx(build)),
        document_id="m",
        settings=ChunkSettings(size=300, overlap=0, strategy="heading"),
    )
    assert heading[-1].location == "Risks, paragraphs 13–14"


def test_corrupt_docx_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match=r"^report\.docx could not be read"):
        parse("report.docx", b"PK\x03\x04 this is not really a zip")


@pytest.mark.parametrize("name", ["empty.txt", "empty.pdf", "empty.docx", "empty.md"])
def test_empty_file_says_so(name: str) -> None:
    with pytest.raises(ParseError, match=f"{name} is empty"):
        parse(name, b"")


def test_whitespace_only_file_has_no_text() -> None:
    with pytest.raises(ParseError, match="contains no text"):
        parse("blank.txt", b"   \n\n  ")


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("setup.exe", "setup.exe: Windows programs (.exe) cannot be added."),
        ("archive.zip", "archive.zip: archives (.zip) cannot be added."),
        (
            "budget.xls",
            "budget.xls: old Office files (.xls) cannot be added (save them as .docx, .xlsx or .pptx first).",
        ),
        ("README", "README: files without an extension cannot be added."),
        ("photo.heic", "photo.heic: '.heic' files cannot be added."),
    ],
)
def test_a_refused_file_is_named_in_words_with_what_is_supported(name: str, said: str) -> None:
    with pytest.raises(UnsupportedFileType) as refused:
        parse(name, b"data")
    assert str(refused.value).startswith(said + " Supported: PDF, Word (.docx), PowerPoint (.pptx)")


def test_binary_file_named_txt_is_refused() -> None:
    with pytest.raises(ParseError, match="binary"):
        parse("data.txt", bytes(range(256)) * 4)
