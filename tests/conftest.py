"""Fixtures shared by every test layer: fresh settings and workbench in tmp_path, real files made on the fly."""

from __future__ import annotations

import hashlib
import io
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import core  # noqa: E402,F401  (offline environment first)
from core import llm  # noqa: E402
from core.config import Settings, load_settings  # noqa: E402
from core.workbench import Workbench  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, SHOTS, origin, shot  # noqa: E402
from tests.postgres import POSTGRESQL, SQLITE, PostgresServer  # noqa: E402


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(env={}, secrets_file=tmp_path / "no-secrets.toml", data_dir=tmp_path / "data")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    yield server
    server.stop()


def database_url(kind: str, request: pytest.FixtureRequest, sqlite_file: Path) -> str:
    """A fresh, empty catalog database of this kind (a new database on the session's PostgreSQL server)."""
    if kind == POSTGRESQL:
        return request.getfixturevalue("postgres").fresh_database()  # type: ignore[no-any-return]
    return f"sqlite:///{sqlite_file}"


@pytest.fixture(params=[SQLITE, POSTGRESQL])
def any_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run the test on SQLite and on a real PostgreSQL: the URL of a fresh catalog database."""
    return database_url(request.param, request, tmp_path / "catalog.db")


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


def page_image(text: str, *, width: int = 1654, height: int = 2339, size: int = 34) -> Any:
    """A picture of a printed A4 page at 200 dpi: the text wrapped in lines of a serif font, black on white."""
    import textwrap

    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", size)
    y = 160
    for paragraph in text.split("\n"):
        for line in textwrap.wrap(paragraph, width=int((width - 320) / (size * 0.55))) or [""]:
            draw.text((160, y), line, fill=0, font=font)
            y += int(size * 1.6)
    return image


def make_scan(pages: Sequence[str | None]) -> bytes:
    """A scanned PDF: each page a picture of its text and no text layer (None: a page with a real text layer)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_font("Helvetica", size=11)
    for text in pages:
        pdf.add_page()
        if text is None:
            pdf.multi_cell(0, 6, "This page has a real text layer about the annual general meeting in Lyon.")
        else:
            pdf.image(page_image(text), x=0, y=0, w=210, h=297)
    return bytes(pdf.output())


def make_raw_pdf(content: bytes) -> bytes:
    """A one-page PDF whose page draws exactly `content` (a content stream; font /F1 is Helvetica)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%b\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%b\nendobj\n" % (number, body)
    table = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, table)


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


def make_xlsx(sheets: dict[str, list[list[object]]]) -> bytes:
    """A real workbook, one sheet per entry, rows as given (a string starting with '=' is a formula)."""
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def make_pptx(slides: list[tuple[str, str, str]]) -> bytes:
    """A real deck: (title, body, speaker notes) per slide."""
    from pptx import Presentation

    deck = Presentation()
    for title, body, notes in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    buffer = io.BytesIO()
    deck.save(buffer)
    return buffer.getvalue()


def make_eml(*, subject: str, body: str, html: str | None = None, attachment: tuple[str, bytes] | None = None) -> bytes:
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "Ana Lyst <ana@example.com>"
    message["To"] = "team@example.com"
    message["Subject"] = subject
    message["Date"] = "Mon, 02 Mar 2026 09:30:00 +0000"
    if html is None:
        message.set_content(body)
    else:
        message.add_alternative(html, subtype="html")
    if attachment:
        message.add_attachment(attachment[1], maintype="application", subtype="octet-stream", filename=attachment[0])
    return message.as_bytes()


def make_png(width: int = 64, height: int = 32) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


class FakeProvider:
    """A remote provider stand-in reached through litellm's real custom-provider path."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def embedding(self, model: str, input: list, model_response: Any, *args: Any, **kwargs: Any) -> Any:
        from litellm.types.utils import Usage

        self.calls.append(len(input))
        model_response.data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": [b + 1.0 for b in hashlib.sha256(t.encode()).digest()[:16]],
            }
            for i, t in enumerate(input)
        ]
        model_response.usage = Usage(prompt_tokens=len(input), total_tokens=len(input))
        return model_response


FAKE_MODEL = "fakeremote/embed-16"


@pytest.fixture
def fake_provider(monkeypatch: pytest.MonkeyPatch) -> FakeProvider:
    litellm = llm.litellm_module()
    handler_class = type("FakeRemote", (FakeProvider, litellm.CustomLLM), {})
    handler = handler_class()
    FakeProvider.__init__(handler)
    monkeypatch.setattr(
        litellm,
        "custom_provider_map",
        [*litellm.custom_provider_map, {"provider": "fakeremote", "custom_handler": handler}],
    )
    monkeypatch.setattr(litellm, "_custom_providers", [*litellm._custom_providers, "fakeremote"])
    return handler


@pytest.fixture
def fake_embedding_provider(fake_provider: FakeProvider) -> str:
    """The name of a remote-style embedding model (16 dimensions) served through litellm."""
    return FAKE_MODEL


@pytest.fixture
def mock_chat(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Make every chat completion answer `reply`, through litellm's own mock_response path."""
    litellm = llm.litellm_module()
    real = litellm.completion

    def install(reply: str) -> None:
        monkeypatch.setattr(litellm, "completion", lambda **kwargs: real(**{**kwargs, "mock_response": reply}))

    return install


def sign_in(workbench: Workbench, name: str, password: str) -> str:
    """Sign in as the login page does (core trims and lowercases the name); the name signed in."""
    return workbench.users.sign_in(name, password).name


# Chromium for the browser tests (tests/e2e, and the app through the balancer in tests/cluster): one browser for
# the whole session, so that the folders share it (Playwright's sync API runs one instance per process).


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.fail(
            "Debian's chromium is missing: apt-get install -y chromium chromium-driver (the README command does)"
        )
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    opened.set_default_timeout(60_000)
    asked: list[str] = []
    opened.on("request", lambda r: asked.append(r.url))  # every address the browser asks for
    refused: list[str] = []  # what the app's Content-Security-Policy blocked: the app itself must need nothing of it
    opened.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    yield opened
    assert not refused, f"the Content-Security-Policy blocked part of the app: {refused[:3]}"
    app = next((origin(u) for u in asked if u.startswith("http")), "")  # the first page asked for is the app's
    foreign = sorted({u for u in asked if u.startswith(("http:", "https:", "ws:", "wss:")) and origin(u) != app})
    assert not foreign, f"the browser fetched from outside the app ({app}): {foreign}"
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:  # what the page showed when the test failed
        shot(opened, f"failed-{request.node.name[:60]}")
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.when == "call":
        item.report_call = report  # type: ignore[attr-defined]
    return report
