"""Spreadsheets and CSV: one section per row, every row chunk repeating its table's header row."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence

from core.parsing import limits
from core.parsing.document import Part, assemble
from core.parsing.text import decode
from core.records import ParsedDocument

CELL_SEPARATOR = " | "
SNIFF_BYTES = 64 * 1024


def table_parts(
    rows: Iterable[tuple[int, Sequence[object]]],
    *,
    page: int | None = None,
    label: str | None = None,
    heading: str | None = None,
) -> list[Part]:
    """Rows (number, cells) as parts: the first non-empty row is the header that every chunk repeats."""
    parts: list[Part] = []
    header = ""
    for number, cells in rows:
        if len(parts) % 1024 == 0:
            limits.check_time()
        line = _row_text(cells)
        if not line:
            continue
        if not header:
            header = line
        limits.count_rows(1)
        parts.append(
            Part(
                line,
                page=page,
                heading=heading,
                context=header,
                label=label,
                row=number,
                joiner="\n" if parts else "\n\n",
            )
        )
    return parts


def _row_text(cells: Sequence[object]) -> str:
    values = [_cell(c) for c in cells]
    while values and not values[-1]:
        values.pop()
    return CELL_SEPARATOR.join(values) if any(values) else ""


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, dt.datetime):
        return (
            value.isoformat(sep=" ", timespec="minutes")
            if (value.hour, value.minute) != (0, 0)
            else value.date().isoformat()
        )
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return " ".join(str(value).split())


def parse_xlsx(filename: str, data: bytes) -> ParsedDocument:
    """Every worksheet; cached cell values (not formulas); the sheet number is the page."""
    import openpyxl

    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    parts: list[Part] = []
    warnings: list[str] = []
    try:
        for number, sheet in enumerate(workbook.worksheets, start=1):
            rows = ((sheet.min_row + i, row) for i, row in enumerate(sheet.iter_rows(values_only=True)))
            sheet_parts = table_parts(rows, page=number, label=f"Sheet '{sheet.title}'", heading=sheet.title)
            if not sheet_parts:
                warnings.append(f"Sheet '{sheet.title}' is empty.")
            parts.extend(sheet_parts)
        sheets = len(workbook.worksheets)
    finally:
        workbook.close()
    return assemble(filename, parts, page_count=sheets, warnings=warnings)


def parse_csv(filename: str, data: bytes) -> ParsedDocument:
    """Comma, semicolon, tab or pipe separated, whichever the file uses."""
    text = decode(filename, data)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:SNIFF_BYTES], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = enumerate(csv.reader(io.StringIO(text), dialect), start=1)
    return assemble(filename, table_parts(rows))
