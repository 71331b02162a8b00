"""Every format an analyst drops in: real files made by the format's own library, checked for text and location."""

from __future__ import annotations

import io
import zipfile

import pytest

from core.chunking import chunk_document
from core.errors import InvalidInput, ParseError
from core.options import ChunkSettings
from core.parsing import parse
from core.parsing.options import ParseOptions
from tests.conftest import make_docx, make_eml, make_png, make_pptx, make_xlsx


def test_xlsx_every_sheet_values_not_formulas_with_sheet_and_rows() -> None:
    data = make_xlsx(
        {
            "Revenue": [["Region", "Q1", "Q2"], ["EU", 10.5, "=B2*2"], [None, None], ["US", 20, 30]],
            "Staff": [["Team", "Headcount"], ["Sales", 42]],
            "Empty": [],
        }
    )
    parsed = parse("book.xlsx", data)
    assert parsed.page_count == 3
    assert "=B2*2" not in parsed.text
    assert [(s.page, s.label, s.row) for s in parsed.sections] == [
        (1, "Sheet 'Revenue'", 1),
        (1, "Sheet 'Revenue'", 2),
        (1, "Sheet 'Revenue'", 4),
        (2, "Sheet 'Staff'", 1),
        (2, "Sheet 'Staff'", 2),
    ]
    assert parsed.warnings == ("Sheet 'Empty' is empty.",)


def test_row_chunks_repeat_the_header_and_never_mix_sheets() -> None:
    rows = [["Ticker", "Price", "Volume"]] + [[f"T{i:03d}", 100 + i, 1000 * i] for i in range(60)]
    parsed = parse("prices.xlsx", make_xlsx({"Prices": rows, "Other": [["Name", "Value"], ["x", 1]]}))
    chunks = chunk_document(parsed, document_id="d", settings=ChunkSettings(size=200, overlap=0))
    assert len(chunks) > 5
    for chunk in chunks:
        assert chunk.content.startswith("Ticker | Price | Volume\n") or chunk.content.startswith("Name | Value")
        assert len(chunk.content) <= 200
    assert chunks[1].location and chunks[1].location.startswith("Sheet 'Prices', rows ")
    assert chunks[-1].location == "Sheet 'Other', row 2" and chunks[-1].page == 2


def test_csv_delimiter_is_sniffed_and_rows_numbered() -> None:
    parsed = parse("sales.csv", "name;amount;city\nAnna;1,5;Genève\nBen;2;Oslo\n".encode("cp1252"))
    assert parsed.text == "name | amount | city\nAnna | 1,5 | Genève\nBen | 2 | Oslo"
    assert [s.row for s in parsed.sections] == [1, 2, 3]
    [whole] = chunk_document(parsed, document_id="d", settings=ChunkSettings(size=80, overlap=0))
    assert (whole.location, whole.content) == ("Rows 2–3", parsed.text)
    chunks = chunk_document(parsed, document_id="d", settings=ChunkSettings(size=40, overlap=0))
    assert [c.location for c in chunks] == ["Row 2", "Row 3"]
    assert chunks[1].content == "name | amount | city\nBen | 2 | Oslo"


def test_pptx_title_body_notes_per_slide() -> None:
    data = make_pptx(
        [("Strategy 2027", "Grow in Asia\nCut costs", "Mention the Tokyo office"), ("Risks", "Currency swings", "")]
    )
    parsed = parse("deck.pptx", data)
    assert parsed.page_count == 2
    assert (
        parsed.text
        == "# Strategy 2027\nGrow in Asia\nCut costs\nNotes: Mention the Tokyo office\n\n# Risks\nCurrency swings"
    )
    assert [(s.page, s.label, s.heading) for s in parsed.sections] == [
        (1, "Slide 1", "Strategy 2027"),
        (2, "Slide 2", "Risks"),
    ]


def test_html_visible_text_with_headings_and_no_noise() -> None:
    page = b"""<html><head><title>Handbook</title><style>p {color: red}</style><script>var secret = 1;</script></head>
    <body><nav>Home | About | Login</nav><header>Site banner</header>
    <h1>Guide</h1><p>Install   the <b>tool</b>.</p><div role="navigation">Breadcrumbs</div>
    <h2>Use</h2><ul><li>Click</li><li>Type</li></ul>
    <table><tr><th>Key</th><th>Action</th></tr><tr><td>F1</td><td>Help</td></tr></table>
    <footer>(c) 2026 Example</footer></body></html>"""
    parsed = parse("handbook.html", page)
    assert parsed.title == "Handbook"
    assert parsed.text == "# Guide\nInstall the tool.\n\n## Use\nClick\nType\nKey | Action\nF1 | Help"
    assert [s.heading for s in parsed.sections] == ["Guide", "Guide > Use"]


def test_eml_headers_and_html_body_as_text() -> None:
    data = make_eml(
        subject="Q3 numbers",
        body="",
        html="<html><body><p>Revenue is up <b>4%</b>.</p><script>track()</script></body></html>",
        attachment=("forecast.xlsx", b"PK"),
    )
    parsed = parse("q3.eml", data)
    assert parsed.title == "Q3 numbers"
    assert parsed.text.splitlines()[:5] == [
        "From: Ana Lyst <ana@example.com>",
        "To: team@example.com",
        "Date: Mon, 02 Mar 2026 09:30:00 +0000",
        "Subject: Q3 numbers",
        "Attachments: forecast.xlsx",
    ]
    assert parsed.text.endswith("Revenue is up 4%.")
    assert "track()" not in parsed.text


def test_plain_eml_body() -> None:
    parsed = parse("note.eml", make_eml(subject="Lunch", body="Meet at noon.\nBring the report."))
    assert parsed.text.endswith("Meet at noon.\nBring the report.")


def test_broken_msg_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match=r"^mail\.msg could not be read"):
        parse("mail.msg", b"\xd0\xcf\x11\xe0 not really an outlook file")


def test_json_pretty_printed_and_split_by_element() -> None:
    parsed = parse("data.json", b'{"name": "report", "items": [{"id": 1, "label": "caf\\u00e9"}, {"id": 2}]}')
    assert [s.heading for s in parsed.sections] == ["name", "items[0]", "items[1]"]
    assert '"label": "café"' in parsed.text
    top = parse("list.json", b"[1, 2, 3]")
    assert [s.heading for s in top.sections] == ["[0]", "[1]", "[2]"]


def test_invalid_json_says_where() -> None:
    with pytest.raises(ParseError, match=r"data\.json is not valid JSON: .* line 1, column"):
        parse("data.json", b'{"a": }')


def test_image_without_a_vision_model_says_how_to_configure_one() -> None:
    with pytest.raises(ParseError, match="shows no text that OCR could read; a vision model can describe it"):
        parse("chart.png", make_png())  # read offline by OCR first: a picture with no words in it
    with pytest.raises(InvalidInput, match="OCR is turned off .* vision model \\(WORKBENCH_VISION_MODEL"):
        parse("chart.png", make_png(), ParseOptions(ocr="never"))


def test_image_is_described_by_the_vision_model_through_litellm() -> None:
    calls = []
    options = ParseOptions(
        vision_model="openai/gpt-4o-mini",
        vision_prompt="List the numbers.",
        vision_params={"mock_response": "A red bar chart: revenue 2024 = 12 M, 2025 = 15 M."},
        on_usage=lambda model, response: calls.append((model, response.text)),
    )
    parsed = parse("chart.png", make_png(), options)
    assert parsed.text == "A red bar chart: revenue 2024 = 12 M, 2025 = 15 M."
    assert calls == [("openai/gpt-4o-mini", parsed.text)]
    assert "vision model openai/gpt-4o-mini" in parsed.warnings[0]


def test_big_or_odd_images_are_converted_before_sending() -> None:
    from core.parsing.image import _sendable

    tiff = io.BytesIO()
    from PIL import Image

    Image.new("RGB", (3000, 1000)).save(tiff, format="TIFF")
    data, mime = _sendable("scan.tiff", tiff.getvalue())
    assert mime == "image/png"
    assert max(Image.open(io.BytesIO(data)).size) == 2048


def test_damaged_image_is_a_parse_error() -> None:
    options = ParseOptions(vision_model="openai/gpt-4o-mini", vision_params={"mock_response": "x"})
    with pytest.raises(ParseError, match="not a readable image"):
        parse("photo.jpg", b"\xff\xd8\xff\xe0 broken jpeg", options)


def _bomb(name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(name, b"\0" * (60 * 2**20))
    return buffer.getvalue()


def test_zip_bombs_are_refused_before_inflating() -> None:
    bomb = _bomb("word/document.xml")
    with pytest.raises(ParseError, match=r"compressed .* times \(limit 200\); it is refused as a possible zip bomb"):
        parse("bomb.docx", bomb)
    with pytest.raises(ParseError, match="would unpack to 60 MB, over the 50 MB limit"):
        parse("bomb.xlsx", bomb, ParseOptions(max_unzipped_bytes=50 * 2**20, max_zip_ratio=10**9))


def test_docx_still_parses_under_the_limits() -> None:
    data = make_docx(lambda d: d.add_paragraph("Small and honest."))
    assert parse("ok.docx", data, ParseOptions(max_unzipped_bytes=2**20)).text == "Small and honest."
