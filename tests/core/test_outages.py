"""Outages of what the workbench stands on: a PostgreSQL catalog whose server stops in the middle of work (a
plain error, nothing half-written, and work goes on once it is back, without a restart), and a disk that fills
up while files are being added (a plain error, the store as it was)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Settings
from core.errors import DISK_FULL, WorkbenchError
from core.ingest import Upload
from core.records import DocumentStatus
from core.workbench import Workbench
from tests.postgres import PostgresServer

pytestmark = pytest.mark.slow


def test_a_postgresql_catalog_that_stops_and_comes_back(settings: Settings) -> None:
    server = PostgresServer()  # its own server: this test stops it
    try:
        wb = Workbench(settings.replace(database_url=server.fresh_database()))
        admin = wb.actor("admin")
        wb.stores.create(admin, "kb")
        wb.documents.ingest(admin, "kb", [Upload("first.txt", b"The launch is planned for May.")])
        server.pause()
        for attempt in (
            lambda: wb.stores.visible(admin),
            lambda: wb.documents.ingest(admin, "kb", [Upload("second.txt", b"The budget is ten million.")]),
            lambda: wb.search.run(admin, "kb", "launch"),
            lambda: wb.users.sign_in("admin", "whatever it is"),
        ):
            with pytest.raises(WorkbenchError, match="catalog database is not reachable"):
                attempt()
        server.resume()
        assert [s.store.name for s in wb.stores.visible(admin)] == ["kb"]  # back, without a restart
        documents = {d.filename: d.status for d in wb.documents.of(admin, "kb")}
        assert documents == {"first.txt": DocumentStatus.READY}  # nothing half-written
        wb.documents.ingest(admin, "kb", [Upload("second.txt", b"The budget is ten million.")])
        assert wb.search.run(admin, "kb", "budget")[0].text.startswith("The budget")
    finally:
        server.stop()


def test_a_postgresql_catalog_that_stops_in_the_middle_of_an_ingest(settings: Settings) -> None:
    from core.ingest import Progress, Stage

    server = PostgresServer()
    try:
        wb = Workbench(settings.replace(database_url=server.fresh_database(), ingest_batch_chunks=2))
        admin = wb.actor("admin")
        wb.stores.create(admin, "kb")
        text = " ".join(f"Paragraph {n} says the launch moves to week {n}." for n in range(400)).encode()

        def outage(progress: Progress) -> None:
            if progress.stage is Stage.WRITING and progress.batch == 2:
                server.pause()  # the catalog goes away with the document half-written

        with pytest.raises(WorkbenchError, match="catalog database is not reachable"):
            wb.documents.ingest(admin, "kb", [Upload("long.txt", text)], on_progress=outage)
        server.resume()
        assert [d.status for d in wb.documents.of(admin, "kb")] == [DocumentStatus.PROCESSING]  # given up on
        assert wb.services.tidy() == 1  # what the idle job worker and the next ingest do first
        assert wb.services.tidy() == 0  # and then nothing, at no cost
        [half] = wb.documents.of(admin, "kb")
        assert half.status is DocumentStatus.FAILED and "interrupted" in (half.error or "")
        [result] = wb.documents.ingest(admin, "kb", [Upload("long.txt", text)])  # and the same file goes in again
        assert result.status.value == "written" and wb.search.run(admin, "kb", "week 399")
        assert [d.status for d in wb.documents.of(admin, "kb")] == [DocumentStatus.READY]
    finally:
        server.stop()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 64 MB file system (tmpfs) to fill up; it needs root, as the README's test command runs."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64M", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {mounted.stderr.decode().strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_disk_that_fills_up_during_an_ingest(small_disk: Path, tmp_path: Path) -> None:
    from core.config import load_settings

    settings = load_settings(env={}, secrets_file=tmp_path / "none.toml", data_dir=small_disk / "data")
    wb = Workbench(settings)
    admin = wb.actor("admin")
    wb.stores.create(admin, "kb")
    wb.documents.ingest(admin, "kb", [Upload("first.txt", b"The launch is planned for the third of May.")])
    filler = small_disk / "filler"
    with filler.open("wb") as out:  # everything but a few hundred kilobytes
        free = shutil.disk_usage(small_disk).free
        out.write(b"\0" * max(0, free - 300_000))
    text = " ".join(f"Paragraph {n} says the budget grows by {n} percent in week {n}." for n in range(6000)).encode()
    [failed] = wb.documents.ingest(admin, "kb", [Upload("long.txt", text)])
    assert failed.status.value == "failed" and (failed.error or "").endswith(
        DISK_FULL
    )  # in words, not the native library's
    filler.unlink()
    assert {d.filename: d.status for d in wb.documents.of(admin, "kb")} in (
        {"first.txt": DocumentStatus.READY},
        {"first.txt": DocumentStatus.READY, "long.txt": DocumentStatus.FAILED},
    )  # the store as it was (the file that did not fit, at most marked failed)
    assert wb.search.run(admin, "kb", "launch")[0].text.startswith("The launch")
    [result] = wb.documents.ingest(admin, "kb", [Upload("long.txt", text)])  # with room again, it goes in
    assert result.status.value == "written"
