"""Hostile and unlucky files through `preview` and `ingest`, each in its own process: peak memory (RSS) and
seconds, and what the product said. Target: every file refused or finished under 500 MB and 30 s.

    .venv/bin/python bench/hostile.py [--only NAME ...] [--timeout 120]

The files are generated in a temporary folder (nothing is downloaded or kept): zip bombs with honest
headers, a .docx whose zip header lies about its compressed size, a .docx whose body inflates to 1.1 GB while its
central directory, its local header or both declare 200 bytes, JSON nested 900 deep, JSON nested and wide,
a CSV of a million rows, /dev/zero and a FIFO behind .txt names, a 300 MB text file, and two large but honest
files (a 1,000-page PDF, a 90,000-row CSV) for comparison. A first row shows a tiny file, for the baseline
(the process with its models loaded).
"""

from __future__ import annotations

import argparse
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from common import ROOT, print_table

from tests.hostile_files import CONTENT_TYPES, DOCX_HEAD, DOCX_TAIL, RELS, under_declared_docx


def docx(path: Path, paragraphs: int, *, lie_about_packed_size: bool) -> None:
    """A real .docx whose body repeats one paragraph; optionally its headers claim an honest-looking ratio."""
    paragraph = "<w:p><w:r><w:t>The quarterly figures were reviewed by the board.</w:t></w:r></w:p>"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", RELS)
        with archive.open("word/document.xml", "w") as body:
            body.write(DOCX_HEAD.encode())
            block = (paragraph * 1000).encode()
            for _ in range(paragraphs // 1000):
                body.write(block)
            body.write(DOCX_TAIL.encode())
    if lie_about_packed_size:  # the central directory claims the body is barely compressed (ratio 1:1)
        data = bytearray(path.read_bytes())
        with zipfile.ZipFile(path) as archive:
            claimed = archive.getinfo("word/document.xml").file_size
        entry = data.rfind(b"PK\x01\x02", 0, data.rfind(b"word/document.xml"))
        struct.pack_into("<I", data, entry + 20, claimed)  # compressed size := uncompressed size
        path.write_bytes(bytes(data))


def zip_bomb(path: Path, megabytes: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        with archive.open("word/document.xml", "w", force_zip64=True) as body:
            zeros = b"\0" * 2**20
            for _ in range(megabytes):
                body.write(zeros)


def nested_json(path: Path, depth: int) -> None:
    path.write_text('{"a":' * depth + "1" + "}" * depth)


def nested_wide_json(path: Path) -> None:
    leaf = '"' + "figures " * 6 + '"'
    path.write_text("[" * 450 + ",".join([leaf] * 40) + "]" * 450 + " " * 0)


def csv_rows(path: Path, rows: int) -> None:
    with path.open("w") as out:
        out.write("id,name,amount\n")
        for n in range(rows):
            out.write(f"{n},item {n % 997},{n % 1000}.5\n")


def big_text(path: Path, megabytes: int) -> None:
    with path.open("wb") as out:
        line = b"An ordinary line of a very long plain text log file.\n" * 20000
        for _ in range(megabytes * 2**20 // len(line)):
            out.write(line)


def pdf_pages(path: Path, pages: int) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    words = ["revenue", "margin", "cash", "flow", "segment", "growth", "liquidity", "debt", "equity", "dividend"]
    rng = random.Random(7)
    for n in range(pages):
        pdf.add_page()
        pdf.multi_cell(0, 5, f"Page {n + 1}. " + " ".join(rng.choice(words) for _ in range(350)))
    pdf.output(str(path))


def cases(folder: Path) -> dict[str, Callable[[], Path]]:
    def made(name: str, build: Callable[[Path], None]) -> Callable[[], Path]:
        def make() -> Path:
            path = folder / name
            if not path.exists():
                build(path)
            return path

        return make

    def fifo(path: Path) -> None:
        os.mkfifo(path)

    def zero(path: Path) -> None:
        path.symlink_to("/dev/zero")

    return {
        "tiny.txt (baseline)": made("tiny.txt", lambda p: p.write_text("A tiny and honest note.")),
        "zip bomb .docx, honest header (1 GB of zeros)": made("bomb.docx", lambda p: zip_bomb(p, 1024)),
        "zip bomb .docx, 200 MB of zeros": made("bomb200.docx", lambda p: zip_bomb(p, 200)),
        ".docx whose header lies about its packed size": made(
            "lying.docx", lambda p: docx(p, 6_000_000, lie_about_packed_size=True)
        ),
        ".docx part inflating to 1.1 GB, both headers lie": made(
            "under-both.docx", lambda p: p.write_bytes(under_declared_docx(1100))
        ),
        ".docx part inflating to 1.1 GB, central directory lies": made(
            "under-central.docx", lambda p: p.write_bytes(under_declared_docx(1100, local=False))
        ),
        ".docx part inflating to 1.1 GB, local header lies": made(
            "under-local.docx", lambda p: p.write_bytes(under_declared_docx(1100, central=False))
        ),
        ".json nested 900 deep (1.8 KB)": made("nested.json", lambda p: nested_json(p, 900)),
        ".json nested 450 deep and wide": made("wide.json", nested_wide_json),
        ".csv of 1,000,000 rows": made("million.csv", lambda p: csv_rows(p, 1_000_000)),
        "/dev/zero named zero.txt": made("zero.txt", zero),
        "FIFO named pipe.txt": made("pipe.txt", fifo),
        ".txt of 300 MB": made("big.txt", lambda p: big_text(p, 300)),
        "honest: .csv of 90,000 rows": made("rows.csv", lambda p: csv_rows(p, 90_000)),
        "honest: 1,000-page .pdf": made("long.pdf", lambda p: pdf_pages(p, 1000)),
    }


KILL_MB = 6000  # a runaway process is stopped here, before it takes the machine down


def _rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    line = next((line for line in status.splitlines() if line.startswith("VmRSS:")), "VmRSS: 0 kB")
    return int(line.split()[1]) / 1024


def run(command: list[str], env: dict[str, str], timeout: float) -> tuple[float, float, str]:
    """(peak RSS in MB, seconds, the last line it printed) of one process, killed after `timeout`."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            over = time.monotonic() > deadline
            if over or _rss_mb(process.pid) > KILL_MB:
                process.kill()
                _, status, usage = os.wait4(process.pid, 0)
                why = f"killed after {timeout:.0f} s" if over else f"killed at {KILL_MB:,} MB"
                return usage.ru_maxrss / 1024, time.perf_counter() - started, why
            time.sleep(0.05)
        out.seek(0)
        lines = [line for line in out.read().decode(errors="replace").splitlines() if line.strip()]
    said = next((line for line in lines if "error" in line.lower() or "failed" in line.lower()), None)
    said = said or (lines[-1] if lines else f"exit {status}")
    return usage.ru_maxrss / 1024, time.perf_counter() - started, said[:110]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", help="run the cases whose name contains this text")
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wb-hostile-") as scratch:
        folder = Path(scratch)
        env = {
            **os.environ,
            "WORKBENCH_DATA_DIR": str(folder / "data"),
            "WORKBENCH_SECRETS_FILE": str(folder / "none.toml"),
        }
        cli = [sys.executable, "-m", "core"]
        subprocess.run([*cli, "store", "create", "kb"], cwd=ROOT, env=env, check=True, capture_output=True)
        rows = []
        for name, make in cases(folder).items():
            if args.only and not any(o in name for o in args.only):
                continue
            path = make()
            size = os.stat(path).st_size if path.is_file() else 0
            row: dict[str, object] = {"file": name, "MB": size / 2**20}
            for step, command in (("preview", ["preview", str(path)]), ("ingest", ["ingest", "kb", str(path)])):
                peak, seconds, said = run([*cli, *command], env, args.timeout)
                row |= {f"{step} peak MB": peak, f"{step} s": seconds, f"{step} says": said}
            rows.append(row)
            print(f"{name}: done", file=sys.stderr)
        print()
        print_table(rows)


if __name__ == "__main__":
    main()
