"""Scanned pages and pictures of pages read offline by OCR (core.parsing.ocr, RapidOCR): searchable by their words on
the right page, only where a page has no text layer, outlined on the cited page, hostile images refused in words."""

from __future__ import annotations

import io
import struct
import zlib

import pytest

from core.errors import ParseError
from core.ingest import Upload
from core.parsing import ParseOptions, parse
from core.workbench import Workbench
from tests.conftest import make_scan, page_image

PAGES = [
    "Annual report 2019. The orchard cooperative sold 4,200 tonnes of apples to eleven supermarkets.",
    "Board minutes. The directors approved a dividend of 35 cents per share, payable on the ninth of June.",
    "Risk factors. Hail storms destroyed a fifth of the pear harvest in the northern valley during August.",
]


def test_a_scanned_pdf_is_searchable_by_its_words_on_the_right_page(workbench: Workbench) -> None:
    admin = workbench.actor("admin")
    workbench.stores.create(admin, "scans")
    [result] = workbench.documents.ingest(admin, "scans", [Upload("scan.pdf", make_scan(PAGES))])
    assert result.error is None, result.error
    assert any(w.startswith("Read by OCR: 3 pages (1, 2, 3)") for w in result.warnings), result.warnings
    hits = workbench.search.run(admin, "scans", "dividend payable in June")
    assert hits[0].page == 2 and "dividend of 35 cents" in hits[0].text
    hail = workbench.search.run(admin, "scans", "hail storms pear harvest")
    assert hail[0].page == 3


def test_only_pages_without_text_are_read_by_ocr() -> None:
    parsed = parse("mixed.pdf", make_scan([None, PAGES[1]]))
    assert parsed.page_count == 2
    assert "annual general meeting in Lyon" in parsed.text and "dividend of 35 cents" in parsed.text
    assert [w for w in parsed.warnings if "OCR" in w] == [next(w for w in parsed.warnings if "OCR" in w)]
    assert "Read by OCR: page 2 (confidence" in parsed.warnings[0]


def test_ocr_is_a_choice() -> None:
    with pytest.raises(ParseError, match="no text on any page"):
        parse("scan.pdf", make_scan(PAGES[:1]), ParseOptions(ocr="never"))
    always = parse("mixed.pdf", make_scan([None]), ParseOptions(ocr="always"))
    assert "annual general meeting" in always.text and "Read by OCR: page 1" in always.warnings[0]


def test_a_picture_of_a_page_is_read_offline() -> None:
    buffer = io.BytesIO()
    page_image(PAGES[0]).save(buffer, format="PNG")
    parsed = parse("photo.png", buffer.getvalue())
    assert "4,200 tonnes of apples" in parsed.text and parsed.page_count == 1
    frames = [page_image(text) for text in PAGES[:2]]
    tiff = io.BytesIO()
    frames[0].save(tiff, format="TIFF", save_all=True, append_images=frames[1:])
    pages = parse("fax.tiff", tiff.getvalue())
    assert pages.page_count == 2 and "dividend of 35 cents" in pages.text


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims a huge size (its pixel data is one empty line): what a decompression bomb declares."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b"")


@pytest.mark.parametrize(("width", "height"), [(30_000, 30_000), (8_000, 6_000)])
def test_a_huge_image_is_refused_in_words(width: int, height: int) -> None:
    with pytest.raises(ParseError, match="too large to read") as refused:
        parse("bomb.png", _png_header(width, height))
    assert "bomb.png" in str(refused.value)


def test_the_cited_page_outlines_the_ocr_passage(workbench: Workbench) -> None:
    from PIL import Image, ImageChops

    admin = workbench.actor("admin")
    workbench.stores.create(admin, "scans")
    workbench.documents.ingest(admin, "scans", [Upload("scan.pdf", make_scan(PAGES))])
    hit = workbench.search.run(admin, "scans", "dividend payable in June")[0]
    plain = workbench.documents.page_image(admin, "scans", hit.document_id, 2)
    outlined = workbench.documents.page_image(admin, "scans", hit.document_id, 2, passage=hit.text)
    assert plain and outlined
    difference = ImageChops.difference(Image.open(io.BytesIO(plain)).convert("RGB"),
                                       Image.open(io.BytesIO(outlined)).convert("RGB")).getbbox()  # fmt: skip
    assert difference is not None  # an outline was drawn
    left, top, right, _ = difference
    page = Image.open(io.BytesIO(plain))
    assert top < page.height * 0.2 and right - left > page.width * 0.5  # around the text near the top of the page


def test_a_long_scan_shows_its_pages_and_stops_when_cancelled(workbench: Workbench) -> None:
    from core.ingest import IngestStatus, Progress

    admin = workbench.actor("admin")
    workbench.stores.create(admin, "scans")
    events: list[Progress] = []
    [done] = workbench.documents.ingest(
        admin, "scans", [Upload("scan.pdf", make_scan(PAGES))], on_progress=events.append
    )
    read = [e.detail for e in events if e.detail.startswith("read by OCR")]
    assert read == ["read by OCR, page 1 of 3", "read by OCR, page 2 of 3", "read by OCR, page 3 of 3"]
    overall = [e.overall for e in events]
    assert overall == sorted(overall) and done.status is IngestStatus.WRITTEN  # the estimate moves with the pages
    seen: list[Progress] = []
    [stopped] = workbench.documents.ingest(
        admin, "scans", [Upload("other-scan.pdf", make_scan(PAGES[::-1]))], on_progress=seen.append,
        cancelled=lambda: any("page 1 of 3" in e.detail for e in seen),
    )  # fmt: skip
    assert stopped.status is IngestStatus.CANCELLED
    assert [e.detail for e in seen if e.detail.startswith("read by OCR")] == ["read by OCR, page 1 of 3"]
    assert [d.filename for d in workbench.documents.of(admin, "scans")] == ["scan.pdf"]  # nothing half kept


def test_ocr_time_is_bounded_per_page_not_by_the_parse_budget() -> None:
    from core.parsing.limits import Limits

    quick = ParseOptions(limits=Limits(max_parse_seconds=0.5))  # three pages take seconds: OCR is not counted
    assert "Hail storms" in parse("scan.pdf", make_scan(PAGES), quick).text
    slow = ParseOptions(limits=Limits(max_ocr_page_seconds=0.01))
    with pytest.raises(
        ParseError,
        match="page 1 took .* to read by OCR, over the 0.01 s a page allowed .WORKBENCH_MAX_OCR_PAGE_SECONDS",
    ):
        parse("scan.pdf", make_scan(PAGES), slow)
    few = ParseOptions(limits=Limits(max_ocr_pages=2))
    with pytest.raises(ParseError, match="3 pages need OCR, over the 2 .*WORKBENCH_MAX_OCR_PAGES"):
        parse("scan.pdf", make_scan(PAGES), few)


def test_a_store_chooses_how_its_scans_are_read(workbench: Workbench) -> None:
    from core.errors import InvalidInput

    admin = workbench.actor("admin")
    workbench.stores.create(admin, "no-ocr")
    assert workbench.stores.set_ocr(admin, "no-ocr", "never").ocr == "never"
    [refused] = workbench.documents.ingest(admin, "no-ocr", [Upload("scan.pdf", make_scan(PAGES[:1]))])
    assert refused.error is not None and "no text on any page" in refused.error
    assert workbench.stores.set_ocr(admin, "no-ocr", "").ocr == ""  # the server's setting again: auto
    [read] = workbench.documents.ingest(admin, "no-ocr", [Upload("scan.pdf", make_scan(PAGES[:1]))])
    assert read.error is None and read.chunks >= 1
    with pytest.raises(InvalidInput, match="OCR is auto, always or never"):
        workbench.stores.set_ocr(admin, "no-ocr", "sometimes")


def test_the_documents_list_finds_what_ocr_read(workbench: Workbench) -> None:
    admin = workbench.actor("admin")
    workbench.stores.create(admin, "mixed")
    workbench.documents.ingest(admin, "mixed", [Upload("scan.pdf", make_scan(PAGES[:2])),
                                                Upload("notes.txt", b"Typed notes about the orchard.")])  # fmt: skip
    every = workbench.documents.page(admin, "mixed")
    assert {d.filename for d in every.documents} == {"scan.pdf", "notes.txt"}
    scanned = workbench.documents.page(admin, "mixed", noted="Read by OCR")
    assert [d.filename for d in scanned.documents] == ["scan.pdf"] and scanned.matching == 1
    assert scanned.documents[0].notes[0].startswith("Read by OCR: 2 pages (1, 2) (confidence")
    assert workbench.documents.page(admin, "mixed", noted="Low OCR confidence").matching == 0


def test_odd_images_are_read_or_passed_over_safely() -> None:
    import numpy as np
    from PIL import Image

    base = page_image(PAGES[1], height=700)

    def png(image: Image.Image) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()

    deep = Image.fromarray(np.asarray(base, dtype=np.uint16) * 257)  # a 16-bit scan
    clear = Image.new("RGBA", base.size, (0, 0, 0, 0))  # black text on a transparent page
    clear.putalpha(Image.eval(base, lambda v: 255 - v))
    for image in (deep, clear):
        assert "dividend of 35 cents" in parse("odd.png", png(image)).text
    with pytest.raises(ParseError, match="shows no text"):  # a 2000 × 1 strip: not blown up to gigabytes
        parse("strip.png", png(Image.new("L", (2000, 1), 255)))
    frames = [Image.new("L", (100, 100), 255), Image.new("L", (8_000, 6_000), 255)]
    tiff = io.BytesIO()
    frames[0].save(tiff, format="TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate")
    with pytest.raises(ParseError, match="fax.tiff, page 2 is 8,000 × 6,000 pixels: too large to read"):
        parse("fax.tiff", tiff.getvalue())


def test_a_preview_reads_the_first_pages_and_the_upload_all(
    workbench: Workbench, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.options import ChunkSettings

    monkeypatch.setattr("core.workbench.documents.PREVIEW_OCR_PAGES", 1)
    admin = workbench.actor("admin")
    workbench.stores.create(admin, "scans")
    scan = make_scan(PAGES[:2])
    preview = workbench.documents.preview(admin, "scan.pdf", scan, chunking=ChunkSettings())
    assert any(
        "This preview read the first 1 scanned pages; the other 1 are read" in w for w in preview.parsed.warnings
    )
    assert workbench.documents.check(admin, "scan.pdf", scan) is None
    [added] = workbench.documents.ingest(admin, "scans", [Upload("scan.pdf", scan)])
    assert any(w.startswith("Read by OCR: 2 pages") for w in added.warnings)
    assert workbench.search.run(admin, "scans", "dividend payable in June")[0].page == 2


def test_ocr_trouble_around_the_reading_fails_nothing(workbench: Workbench, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.parsing.limits import Limits

    def broken(done: int, total: int) -> None:
        raise RuntimeError("the catalog blinked")

    assert "dividend" in parse("scan.pdf", make_scan(PAGES[1:2]), ParseOptions(on_page=broken)).text
    with pytest.raises(
        ParseError, match="reading it by OCR took over 0.01 s .WORKBENCH_MAX_OCR_SECONDS. and was stopped"
    ):
        parse("scan.pdf", make_scan(PAGES[:2]), ParseOptions(limits=Limits(max_ocr_seconds=0.01)))
    admin = workbench.actor("admin")
    workbench.stores.create(admin, "scans")
    workbench.documents.ingest(admin, "scans", [Upload("scan.pdf", make_scan(PAGES[1:2]))])
    hit = workbench.search.run(admin, "scans", "dividend")[0]

    def failing(image: object, **_: object) -> None:
        raise RuntimeError("onnx fell over")

    monkeypatch.setattr("core.parsing.ocr.read", failing)
    shown = workbench.documents.page_image(admin, "scans", hit.document_id, 1, passage=hit.text + " other")
    assert shown is not None and shown.startswith(b"\x89PNG")  # the page, without an outline


def test_a_short_caption_stays_when_ocr_reads_nothing() -> None:
    from fpdf import FPDF
    from PIL import Image

    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.image(Image.new("L", (400, 300), 255), x=20, y=40, w=100)  # a blank picture
    pdf.set_font("Helvetica", size=11)
    pdf.text(20, 160, "Figure 3. Orchard map.")
    assert "Figure 3. Orchard map." in parse("figure.pdf", bytes(pdf.output())).text
