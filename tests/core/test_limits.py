"""Hostile files are refused by limits counted on what is really read and produced, each with one sentence.
(Memory and time per file are measured by bench/hostile.py, not here.)"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from core.config import load_settings
from core.errors import InvalidInput, ParseError
from core.ingest import Upload
from core.options import ChunkSettings
from core.parsing import parse
from core.parsing.limits import Limits, read_file
from core.parsing.options import ParseOptions
from core.records import IngestStatus
from core.workbench import Workbench
from tests.hostile_files import under_declared_docx

ROOT = Path(__file__).resolve().parents[2]


def lying_docx(paragraphs: int) -> bytes:
    """A .docx whose central directory claims its body is stored barely compressed (ratio 1:1)."""
    from io import BytesIO

    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        body = "<w:p><w:r><w:t>The figures were reviewed.</w:t></w:r></w:p>" * paragraphs
        archive.writestr("word/document.xml", f"<w:document><w:body>{body}</w:body></w:document>")
    data = bytearray(buffer.getvalue())
    with zipfile.ZipFile(BytesIO(bytes(data))) as archive:
        claimed = archive.getinfo("word/document.xml").file_size
    entry = data.rfind(b"PK\x01\x02", 0, data.rfind(b"word/document.xml"))
    struct.pack_into("<I", data, entry + 20, claimed)
    return bytes(data)


def test_a_zip_header_that_lies_about_its_packed_size_does_not_hide_a_bomb() -> None:
    data = lying_docx(400_000)  # 24 MB of markup in ~60 KB; the header says 24 MB packed
    with zipfile.ZipFile(__import__("io").BytesIO(data)) as archive:
        info = archive.getinfo("word/document.xml")
    assert info.compress_size == info.file_size  # the lie
    options = ParseOptions(limits=Limits(max_markup_bytes=2**30))
    with pytest.raises(ParseError, match=r"report\.docx is compressed [\d,]+ times \(limit 200\).*zip bomb"):
        parse("report.docx", data, options)


@pytest.mark.parametrize(("central", "local"), [(True, True), (True, False), (False, True)])
def test_a_zip_part_that_inflates_past_its_declared_size_is_refused_by_counting(central: bool, local: bool) -> None:
    """A valid body, then 300 MB of zeros, in a part whose headers declare only the body: zipfile would inflate
    it all at once and cut it to the declared size (the round-2 limits judged the headers). Counted as it inflates,
    it is refused at once; with honest central headers the declared size is over the limit already."""
    data = under_declared_docx(300, central=central, local=local)
    options = ParseOptions(max_unzipped_bytes=200 * 2**20)
    words = "unpacks to more than the .* zip bomb" if central else "holds 300 MB of document markup"
    with pytest.raises(ParseError, match=rf"bomb\.docx .*{words}"):
        parse("bomb.docx", data, options)


def test_a_tiny_honest_docx_built_the_same_way_is_read() -> None:
    assert "Hello, body." in parse("fine.docx", under_declared_docx(0)).text


def test_office_markup_past_the_limit_is_refused_before_an_xml_parser_builds_it() -> None:
    with pytest.raises(ParseError, match=r"holds 2 MB of document markup, over the 1 MB limit"):
        parse("report.docx", lying_docx(40_000), ParseOptions(limits=Limits(max_markup_bytes=2**20)))


def test_json_nested_past_the_depth_limit_is_refused() -> None:
    data = ('{"a":' * 900 + "1" + "}" * 900).encode()  # 1.8 KB that pretty-printing makes 1.6 M characters
    with pytest.raises(ParseError, match="nested.json is nested more than 64 levels deep"):
        parse("nested.json", data)
    assert "a" in parse("fine.json", ('{"a":' * 60 + "1" + "}" * 60).encode()).text


def test_rows_characters_and_parse_time_have_limits() -> None:
    rows = "id,name\n" + "".join(f"{n},item {n}\n" for n in range(1500))
    with pytest.raises(ParseError, match=r"big\.csv has more than 1,000 table rows \(WORKBENCH_MAX_ROWS\)"):
        parse("big.csv", rows.encode(), ParseOptions(limits=Limits(max_rows=1000)))
    assert parse("big.csv", rows.encode(), ParseOptions(limits=Limits(max_rows=1501))).text
    with pytest.raises(ParseError, match=r"long\.txt holds more than 1,000 characters"):
        parse("long.txt", b"word " * 400, ParseOptions(limits=Limits(max_chars=1000)))
    with pytest.raises(ParseError, match=r"big\.csv took longer than 0 s to read and was stopped"):
        parse("big.csv", rows.encode(), ParseOptions(limits=Limits(max_parse_seconds=0)))


def test_too_many_chunks_fail_the_file_in_ingest_and_preview(tmp_path: Path) -> None:
    settings = load_settings(env={}, secrets_file=tmp_path / "none.toml", data_dir=tmp_path / "data", max_chunks=5)
    wb = Workbench(settings)
    wb.stores.create(wb.actor("admin"), "kb", chunking=ChunkSettings(size=50, overlap=0))
    text = ("A sentence that fills a small chunk of the store. " * 12).encode()
    result = wb.documents.ingest(
        wb.actor("admin"), "kb", [Upload("many.txt", text), Upload("few.txt", b"Just one short line.")]
    )[0]
    assert result.status is IngestStatus.FAILED and "more than 5 chunks (WORKBENCH_MAX_CHUNKS)" in (result.error or "")
    assert [d.filename for d in wb.documents.of(wb.actor("admin"), "kb") if d.status.value == "ready"] == ["few.txt"]
    with pytest.raises(ParseError, match="more than 5 chunks"):
        wb.documents.preview(wb.actor("admin"), "many.txt", text, chunking=ChunkSettings(size=50, overlap=0))


def test_the_limits_are_settings() -> None:
    settings = load_settings(env={"WORKBENCH_MAX_ROWS": "10", "WORKBENCH_MAX_PARSE_SECONDS": "2.5"})
    assert settings.limits.max_rows == 10 and settings.limits.max_parse_seconds == 2.5


def test_only_regular_files_are_read_and_never_past_the_limit(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe.txt"
    os.mkfifo(pipe)
    with pytest.raises(InvalidInput, match="pipe.txt is not a regular file"):
        read_file(pipe, max_bytes=2**20)  # refused before opening: opening a FIFO waits for a writer forever
    zero = tmp_path / "zero.txt"
    zero.symlink_to("/dev/zero")
    with pytest.raises(InvalidInput, match="zero.txt is not a regular file"):
        read_file(zero, max_bytes=2**20)
    with pytest.raises(InvalidInput, match="over the 0 MB upload limit"):
        read_file(Path("/proc/self/maps"), max_bytes=100)  # says 0 bytes, holds more: counted as read
    (tmp_path / "ok.txt").write_bytes(b"fine")
    assert read_file(tmp_path / "ok.txt", max_bytes=4) == b"fine"


def test_the_command_line_refuses_a_fifo_at_once(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe.txt"
    os.mkfifo(pipe)
    env = {**os.environ, "WORKBENCH_DATA_DIR": str(tmp_path / "data"), "WORKBENCH_SECRETS_FILE": str(tmp_path / "x")}
    for args in (["preview", str(pipe)], ["ingest", "kb", str(pipe)]):
        if args[0] == "ingest":
            subprocess.run([sys.executable, "-m", "core", "store", "create", "kb"], env=env, cwd=ROOT, check=True)
        done = subprocess.run(
            [sys.executable, "-m", "core", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 1 and "pipe.txt is not a regular file" in done.stdout + done.stderr
