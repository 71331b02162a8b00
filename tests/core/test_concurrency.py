"""Two ingests of the same files at once, in two processes: every document ends ready exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import Settings
from core.records import DocumentStatus
from core.stores import lance
from core.workbench import Workbench
from tests.conftest import ROOT


def test_two_processes_ingesting_the_same_files_add_each_once(settings: Settings, tmp_path: Path) -> None:
    wb = Workbench(settings)
    wb.create_store("kb", user="admin")
    folder = tmp_path / "files"
    folder.mkdir()
    for n in range(15):
        (folder / f"note-{n:02}.txt").write_text(
            f"Note {n}: the depot in town {n} opens at {n % 12 + 1} o'clock.\n" * 20
        )
    env = {**os.environ, "WORKBENCH_DATA_DIR": str(settings.data_dir), "WORKBENCH_SECRETS_FILE": str(tmp_path / "x")}
    command = [sys.executable, "-m", "core", "ingest", "kb", str(folder), "--user", "admin"]
    runs = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]  # fmt: skip
    outputs = [run.communicate(timeout=600) for run in runs]
    for run, (_out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err
        assert "Traceback" not in err and "commit conflict" not in err.lower()
    documents = Workbench(settings).documents("kb", user="admin")
    ready = [d.filename for d in documents if d.status is DocumentStatus.READY]
    assert sorted(ready) == sorted(p.name for p in folder.iterdir())  # each file once
    hits = Workbench(settings).search("kb", "depot in town 7", user="admin")
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
