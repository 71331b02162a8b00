"""Hostile input: truncated and byte-flipped versions of every format either parse or raise our own error."""

from __future__ import annotations

import random

import pytest

from core.errors import WorkbenchError
from core.parsing import parse
from core.parsing.options import ParseOptions
from core.records import ParsedDocument
from tests.conftest import filing_pages, make_docx, make_eml, make_pdf, make_png, make_pptx, make_xlsx

CUTS = 16  # truncation points per sample
FLIPS = 100  # byte-flipped copies per sample


def samples() -> dict[str, bytes]:
    docx = make_docx(
        lambda d: (d.add_heading("Title", 1), d.add_paragraph("Body text " * 20), d.add_table(rows=2, cols=2))
    )
    return {
        "a.txt": "Plain text, café, 12 %.\n".encode() * 20,
        "a.md": b"# Head\n\nSome *markdown* text.\n\n## Sub\n\n- item\n" * 5,
        "a.pdf": make_pdf(filing_pages(3), title="Fuzz"),
        "a.docx": docx,
        "a.xlsx": make_xlsx({"S": [["h1", "h2"], [1, 2.5], ["x", "=A2+1"]]}),
        "a.csv": b"a;b;c\n1;2;3\n4;5;6\n" * 10,
        "a.pptx": make_pptx([("Slide", "Body", "Notes")]),
        "a.html": b"<html><head><title>T</title></head><body><h1>H</h1><p>Para</p><table><tr><td>1</td></tr></table></body></html>",
        "a.eml": make_eml(subject="Hi", body="Body of the mail.", attachment=("x.bin", b"\x00\x01")),
        "a.msg": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + b"not a real compound file",
        "a.json": b'{"items": [{"id": 1, "v": "x"}, {"id": 2}], "n": null}',
        "a.png": make_png(),
    }


def variants(data: bytes, rng: random.Random) -> list[bytes]:
    cuts = [data[: max(1, len(data) * i // CUTS)] for i in range(1, CUTS)]
    flipped = []
    for _ in range(FLIPS):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            position = rng.randrange(len(mutated))
            mutated[position] = rng.randrange(256)
        flipped.append(bytes(mutated))
    return [*cuts, *flipped]


@pytest.mark.timeout(300)  # a hang fails the test instead of the whole run
def test_damaged_files_parse_or_fail_with_our_error(capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(20261121)
    options = ParseOptions(vision_model="openai/gpt-4o-mini", vision_params={"mock_response": "An image."})
    tried = parsed = refused = 0
    for name, data in samples().items():
        for variant in variants(data, rng):
            tried += 1
            try:
                result = parse(name, variant, options)
            except WorkbenchError as exc:
                assert str(exc), f"{name}: empty error message"
                refused += 1
            else:
                assert isinstance(result, ParsedDocument) and result.text.strip()
                parsed += 1
    with capsys.disabled():
        print(
            f"\nfuzz: {tried} damaged inputs over {len(samples())} formats: {parsed} parsed, {refused} refused with our error"
        )
    assert tried == len(samples()) * (CUTS - 1 + FLIPS)
    assert refused > 0 and parsed > 0
