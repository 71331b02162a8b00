"""Two ingests of the same files at once, in two processes: every document ends ready exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.catalog.schema import documents
from core.config import Settings
from core.errors import NotFound, WorkbenchError
from core.ingest import Upload
from core.records import DocumentStatus, Role
from core.stores import lance
from core.workbench import Workbench
from tests.conftest import ROOT, filing_pages, make_pdf


def test_two_processes_ingesting_the_same_files_add_each_once(
    settings: Settings, tmp_path: Path, any_database: str
) -> None:
    settings = settings.replace(database_url=any_database)
    wb = Workbench(settings)
    wb.stores.create(wb.actor("admin"), "kb")
    folder = tmp_path / "files"
    folder.mkdir()
    for n in range(15):
        (folder / f"note-{n:02}.txt").write_text(
            f"Note {n}: the depot in town {n} opens at {n % 12 + 1} o'clock.\n" * 20
        )
    env = {
        **os.environ,
        "WORKBENCH_DATA_DIR": str(settings.data_dir),
        "WORKBENCH_SECRETS_FILE": str(tmp_path / "x"),
        "WORKBENCH_DATABASE_URL": any_database,
    }
    command = [sys.executable, "-m", "core", "ingest", "kb", str(folder), "--user", "admin"]
    runs = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]  # fmt: skip
    outputs = [run.communicate(timeout=600) for run in runs]
    for run, (_out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err
        assert "Traceback" not in err and "commit conflict" not in err.lower()
    fresh = Workbench(settings)
    documents = fresh.documents.of(fresh.actor("admin"), "kb")
    ready = [d.filename for d in documents if d.status is DocumentStatus.READY]
    assert sorted(ready) == sorted(p.name for p in folder.iterdir())  # each file once
    fresh = Workbench(settings)
    hits = fresh.search.run(fresh.actor("admin"), "kb", "depot in town 7")
    keys = [(h.document_id, h.chunk_index) for h in hits]
    assert len(keys) == len(set(keys))  # no chunk twice
    assert len({(h.filename, h.document_id) for h in hits}) == len({h.filename for h in hits})  # one copy per file


def test_a_commit_conflict_is_retried_and_other_errors_are_not() -> None:
    attempts: list[int] = []

    def write() -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("Retryable commit conflict for version 7")

    lance._retrying(write)
    assert len(attempts) == 3
    with pytest.raises(ValueError, match="disk full"):
        lance._retrying(lambda: (_ for _ in ()).throw(ValueError("disk full")))


def test_an_ingest_killed_at_random_moments_loses_nothing_after_a_rerun(settings: Settings, tmp_path: Path) -> None:
    """kill -9 a real ingest at seeded random moments (a bounded loop), then re-run the same command each time:
    no half document is ever visible, none is left processing, none is doubled, earlier documents stay."""
    import random
    import signal
    import time

    wb = Workbench(settings)
    wb.stores.create(wb.actor("admin"), "kb")
    earlier = tmp_path / "earlier.txt"
    earlier.write_text("The harbour office keeps the tide tables for every pier.")
    env = {
        **os.environ,
        "WORKBENCH_DATA_DIR": str(settings.data_dir),
        "WORKBENCH_SECRETS_FILE": str(tmp_path / "x"),
        "WORKBENCH_INGEST_BATCH_CHUNKS": "3",  # many small batches: a kill lands mid-document
    }

    def ingest(*paths: Path) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "core", "ingest", "kb", *map(str, paths), "--user", "admin"]
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    assert ingest(earlier).wait(timeout=300) == 0
    catalog, store = wb.catalog, wb.catalog.get_store("kb")
    rng = random.Random(14)
    expected = ["earlier.txt"]
    kills = 0
    for round_ in range(4):
        folder = tmp_path / f"round-{round_}"
        folder.mkdir()
        for n in range(80):
            (folder / f"r{round_}-{n:02}.txt").write_text(f"Signal box {n}, code zq{round_}x{n}, is green.\n" * 12)
        expected += [p.name for p in folder.iterdir()]
        run = ingest(folder)
        before = len(catalog.list_documents(store))
        while run.poll() is None and len(catalog.list_documents(store)) == before:
            time.sleep(0.05)  # until it writes: then a kill lands mid-ingest
        time.sleep(rng.uniform(0.0, 2.0))
        if run.poll() is None:
            run.send_signal(signal.SIGKILL)
            kills += 1
        run.communicate(timeout=300)
        fresh = Workbench(settings)
        visible = fresh.search.run(fresh.actor("admin"), "kb", "signal box is green")
        fresh = Workbench(settings)
        ready = {d.id for d in fresh.documents.of(fresh.actor("admin"), "kb") if d.status is DocumentStatus.READY}
        assert {h.document_id for h in visible} <= ready  # nothing of a half document shows
        rerun = ingest(folder)
        _out, err = rerun.communicate(timeout=600)
        assert rerun.returncode == 0, err
        fresh = Workbench(settings)
        documents = fresh.documents.of(fresh.actor("admin"), "kb")
        assert not [d for d in documents if d.status is DocumentStatus.PROCESSING]  # none stuck
        assert sorted(d.filename for d in documents if d.status is DocumentStatus.READY) == sorted(expected)  # once
        fresh = Workbench(settings)
        hits = fresh.search.run(fresh.actor("admin"), "kb", f"zq{round_}x39")
        assert [h.filename for h in hits].count(f"r{round_}-39.txt") == 1  # searchable, exactly once
    print(f"kill test: {kills} of 4 ingest runs killed mid-write; every invariant held after each re-run")
    assert kills >= 2  # the loop did kill mid-run
    fresh = Workbench(settings)
    hits = fresh.search.run(fresh.actor("admin"), "kb", "tide tables for every pier")
    assert hits[0].filename == "earlier.txt"


def test_two_owners_renaming_to_the_same_name_at_once_get_one_store_each_way(settings: Settings) -> None:
    wb = Workbench(settings)
    admin = wb.actor("admin")
    for name in ("ana", "bo"):
        wb.users.add(admin, name, password="correct horse battery")
        wb.stores.create(wb.actor(name), f"{name}'s")
    start, outcomes = threading.Barrier(2), {}

    def rename(name: str) -> None:
        start.wait()
        try:
            outcomes[name] = wb.stores.rename(wb.actor(name), f"{name}'s", "quarterly").name
        except WorkbenchError as exc:
            outcomes[name] = str(exc)

    threads = [threading.Thread(target=rename, args=(n,)) for n in ("ana", "bo")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert list(outcomes.values()).count("quarterly") == 1
    loser = next(v for v in outcomes.values() if v != "quarterly")
    assert loser == "The name 'quarterly' is not available; choose another name."  # says nothing of the other's store
    names = sorted(s.name for s in wb.catalog.list_stores())
    assert names.count("quarterly") == 1 and len(names) == 2


def test_an_ingest_while_the_owner_deletes_the_store_ends_cleanly(settings: Settings) -> None:
    wb = Workbench(settings.replace(ingest_batch_chunks=8))
    admin = wb.actor("admin")
    wb.users.add(admin, "ed", password="correct horse battery")
    wb.stores.create(admin, "doomed")
    wb.stores.grant(admin, "doomed", "ed", Role.EDITOR)
    store = wb.stores.get(admin, "doomed")
    started, results, errors = threading.Event(), [], []

    def ingest() -> None:
        try:
            results.extend(
                wb.documents.ingest(
                    wb.actor("ed"),
                    "doomed",
                    [Upload("long.pdf", make_pdf(filing_pages(40)))],
                    on_progress=lambda _: started.set(),
                )
            )
        except WorkbenchError as exc:
            errors.append(str(exc))

    worker = threading.Thread(target=ingest)
    worker.start()
    assert started.wait(120)
    wb.stores.delete(admin, "doomed")
    worker.join(300)
    assert not worker.is_alive()
    assert errors or results  # it ended, in words or with a result, never with a traceback
    assert all(r.status.value in ("failed", "cancelled", "written") for r in results), results
    with wb.catalog.engine.connect() as conn:  # nothing of the deleted store is left in the catalog
        left = conn.execute(sa.select(documents.c.id).where(documents.c.store_id == store.id)).all()
    assert left == []
    with pytest.raises(NotFound, match="vector data for this store"):  # the collection is gone, not refilled
        wb.services.backend("lancedb").count(store.collection)
    assert not errors or errors == ["'doomed' was deleted while files were being added to it."], errors
