"""PDF parsing speed: our parser (pypdfium2) against plain pypdf on a generated filing-like PDF.

    .venv/bin/python bench/parse_pdf.py [--pages 150] [--file some.pdf]

The generated document imitates a 10-K: dense paragraphs full of numbers and a table on every page.
Pass --file to measure a real PDF instead. Target: a 150-page PDF parsed in under 5 s.
"""

from __future__ import annotations

import argparse
import io
import random
import time
from pathlib import Path

from common import print_table

from core.parsing import parse


def filing(pages: int) -> bytes:
    from fpdf import FPDF

    rng = random.Random(7)
    pdf = FPDF()
    pdf.set_auto_page_break(False)
    words = [
        "revenue",
        "operating",
        "income",
        "segment",
        "liabilities",
        "deferred",
        "tax",
        "goodwill",
        "impairment",
        "lease",
        "cash",
        "flow",
        "fiscal",
        "quarter",
    ]
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.set_font("Helvetica", size=8)
        paragraph = " ".join(
            rng.choice(words) if rng.random() > 0.2 else f"${rng.randint(1, 99999):,}.{rng.randint(0, 9)}"
            for _ in range(420)
        )
        pdf.multi_cell(0, 3.6, f"Item {number}. {paragraph}")
        with pdf.table(col_widths=(60, 30, 30, 30)) as table:
            for row in range(12):
                cells = table.row()
                cells.cell(f"Line item {row}")
                for _ in range(3):
                    cells.cell(f"{rng.randint(-9999, 99999):,}")
    return bytes(pdf.output())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=150)
    parser.add_argument("--file", type=Path, help="a real PDF to measure instead of the generated one")
    args = parser.parse_args()
    data = args.file.read_bytes() if args.file else filing(args.pages)

    started = time.perf_counter()
    parsed = parse("filing.pdf", data)
    ours = time.perf_counter() - started

    from pypdf import PdfReader

    started = time.perf_counter()
    pypdf_chars = sum(len(page.extract_text() or "") for page in PdfReader(io.BytesIO(data)).pages)
    plain = time.perf_counter() - started

    print_table(
        [
            {
                "extractor": "core.parsing (pypdfium2)",
                "pages": parsed.page_count,
                "MB": len(data) / 2**20,
                "characters": len(parsed.text),
                "seconds": ours,
                "pages/s": (parsed.page_count or 0) / ours,
            },
            {
                "extractor": "pypdf extract_text",
                "pages": parsed.page_count,
                "MB": len(data) / 2**20,
                "characters": pypdf_chars,
                "seconds": plain,
                "pages/s": (parsed.page_count or 0) / plain,
            },
        ]
    )


if __name__ == "__main__":
    main()
