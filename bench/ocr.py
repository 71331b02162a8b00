"""OCR engines side by side on the same pages: character error rate and seconds per page for RapidOCR (the product's,
`core.parsing.ocr`) and Tesseract (Debian's `tesseract-ocr`, through pytesseract, when installed), then the time to
ingest a 20-page scanned report into a store through the product.

    .venv/bin/python bench/ocr.py [--pages 20]

The pages are drawn here from known text (so the error rate is exact): paragraphs from SciFact abstracts at 10, 12
and 14 points in a serif and a sans font at 200 dpi; a two-column page; a table; and a "scanned" copy of a page
(tilted 1.5°, blurred, speckled, 150 dpi). CER is the edit distance between the text read and the text drawn
(whitespace collapsed) over the length of the text drawn; the two-column page is scored against its reading order.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import textwrap
import time
from collections.abc import Callable
from typing import Any

from common import SHARED_DATA, print_table, scratch_workbench
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from core.ingest import Upload
from core.parsing import ocr
from tests.conftest import make_scan

FONTS = {"serif": "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
         "sans": "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"}  # fmt: skip
WIDTH, HEIGHT = 1654, 2339  # A4 at 200 dpi


def paragraphs(count: int) -> list[str]:
    rows = (json.loads(line) for line in (SHARED_DATA / "scifact" / "corpus.jsonl").open(encoding="utf-8"))
    return [" ".join(r["text"].split()[:110]) for r, _ in zip(rows, range(count), strict=False)]


def drawn(text: str, font: str, points: int, *, columns: int = 1) -> tuple[Any, str]:
    """A page image of the text, and the text in the order it should be read."""
    size = round(points * 200 / 72)
    face = ImageFont.truetype(FONTS[font], size)
    image = Image.new("L", (WIDTH, HEIGHT), 255)
    draw = ImageDraw.Draw(image)
    column_width = (WIDTH - 320 - 80 * (columns - 1)) // columns
    chars = int(column_width / (size * 0.52))
    words = text.split()
    per = -(-len(words) // columns)
    read = []
    for c in range(columns):
        lines = textwrap.wrap(" ".join(words[c * per : (c + 1) * per]), chars)
        x, y = 160 + c * (column_width + 80), 160
        for line in lines:
            draw.text((x, y), line, fill=0, font=face)
            y += int(size * 1.5)
        read.append(" ".join(lines))
    return image, " ".join(read)


def table() -> tuple[Any, str]:
    face = ImageFont.truetype(FONTS["sans"], 36)
    rows = [["(in millions)", "2016", "2017", "2018"], ["Total net sales", "135,987", "177,866", "232,887"],
            ["Operating income", "4,186", "4,106", "12,421"], ["Net income", "2,371", "3,033", "10,073"]]  # fmt: skip
    image = Image.new("L", (WIDTH, 900), 255)
    draw = ImageDraw.Draw(image)
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            draw.text((160 + (0 if c == 0 else 420 + 260 * c), 160 + 80 * r), cell, fill=0, font=face)
    return image, " ".join(" ".join(row) for row in rows)


def scanned(image: Any) -> Any:
    """The page as a cheap office scanner sees it: 150 dpi, tilted, blurred, speckled."""
    small = image.resize((image.width * 3 // 4, image.height * 3 // 4))
    tilted = small.rotate(1.5, expand=False, fillcolor=255).filter(ImageFilter.GaussianBlur(0.8))
    pixels = tilted.load()
    rng = random.Random(7)
    for _ in range(tilted.width * tilted.height // 400):
        pixels[rng.randrange(tilted.width), rng.randrange(tilted.height)] = rng.choice((0, 255))
    return tilted


def cer(truth: str, read: str) -> float:
    a, b = " ".join(truth.split()), " ".join(read.split())
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1] / max(len(a), 1)


def rapid(image: Any) -> str:
    return ocr.read(image).text


def tesseract(image: Any) -> str:
    import pytesseract

    return str(pytesseract.image_to_string(image))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=20, help="pages of the scanned report ingested")
    args = parser.parse_args()
    texts = paragraphs(8)
    pages = [(f"{font} {points} pt", *drawn(texts[n], font, points))
             for n, (font, points) in enumerate([("serif", 10), ("serif", 12), ("sans", 10), ("sans", 14)])]  # fmt: skip
    pages.append(("two columns, serif 11 pt", *drawn(texts[4] + " " + texts[5], "serif", 11, columns=2)))
    pages.append(("table, sans 13 pt", *table()))
    image, truth = drawn(texts[6], "serif", 12)
    pages.append(("scanned: 150 dpi, tilted, blurred, specks", scanned(image), truth))
    engines: dict[str, Callable[[Any], str]] = {"RapidOCR 1.4.4 (PP-OCRv4, ONNX)": rapid}
    if shutil.which("tesseract"):
        engines["Tesseract (Debian tesseract-ocr)"] = tesseract
    for engine in engines.values():  # load each once before timing
        engine(pages[0][1])
    rows = []
    for label, image, truth in pages:
        row: dict[str, object] = {"page": label}
        for name, engine in engines.items():
            started = time.perf_counter()
            read = engine(image)
            row[f"{name.split()[0]} CER"] = f"{cer(truth, read):.1%}"
            row[f"{name.split()[0]} s"] = round(time.perf_counter() - started, 2)
        rows.append(row)
    print_table(rows)
    print()
    wb, _scratch = scratch_workbench()
    admin = wb.actor("admin")
    wb.stores.create(admin, "scans")
    report = make_scan([" ".join(texts[n % len(texts)].split()[:90]) for n in range(args.pages)])
    started = time.perf_counter()
    [result] = wb.documents.ingest(admin, "scans", [Upload("scanned-report.pdf", report)])
    seconds = time.perf_counter() - started
    hits = wb.search.run(admin, "scans", " ".join(texts[3].split()[:12]))
    print_table([{"scanned report": f"{args.pages} pages", "ingest s": round(seconds, 1),
                  "s/page": round(seconds / args.pages, 2), "chunks": result.chunks,
                  "OCR": next((w for w in result.warnings if w.startswith("Read by OCR")), "-"),
                  "search finds page": hits[0].page if hits else None}])  # fmt: skip


if __name__ == "__main__":
    main()
