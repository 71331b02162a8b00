"""Fixtures shared by every test layer: fresh settings and workbench in tmp_path, real files made on the fly."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import core  # noqa: E402,F401  (offline environment first)
from core.config import Settings, load_settings  # noqa: E402
from core.workbench import Workbench  # noqa: E402


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(env={}, secrets_file=tmp_path / "no-secrets.toml", data_dir=tmp_path / "data")


@pytest.fixture
def workbench(settings: Settings) -> Workbench:
    return Workbench(settings)


def make_pdf(pages: Sequence[str], *, title: str | None = None, user_password: str | None = None) -> bytes:
    """A real PDF with one page per string (an empty string makes a page with no text layer)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    if title:
        pdf.set_title(title)
    if user_password is not None:
        pdf.set_encryption(owner_password="owner-secret", user_password=user_password)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 6, text)
        else:
            pdf.rect(20, 20, 50, 50)  # something on the page, but no text
    return bytes(pdf.output())


def make_docx(build: Callable[[object], None]) -> bytes:
    """A real .docx built by `build(document)` with python-docx."""
    import docx

    document = docx.Document()
    build(document)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


FILLER = "This paragraph talks about ordinary operational matters of the company and nothing else. "


def filing_pages(count: int) -> list[str]:
    """Pages of a report, each with one distinctive sentence among filler."""
    topics = [
        "Quarterly revenue grew by twelve percent, driven by cloud subscriptions in Europe.",
        "Our warehouse in Rotterdam handles every European shipment of spare parts.",
        "Zebras migrate across the Serengeti plains every July in search of fresh grass.",
        "Employee headcount reached 4,200 at the end of the fiscal year.",
        "The board approved a dividend of 45 cents per share, payable in March.",
    ]
    return [f"{topics[i % len(topics)]} {FILLER * 6}" for i in range(count)]
