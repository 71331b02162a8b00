"""S3-compatible object storage (the cluster's SeaweedFS): two processes appending to one LanceDB table at once lose
no row (a commit conflict is retried, never shown); file bytes are written whole, read back, and a storage that
refuses says so in words."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.objects import Objects, ObjectStoreUnavailable, s3_options
from core.stores.lance import Config, LanceStore
from tests.conftest import ROOT
from tests.local_cluster import Cluster

pytestmark = pytest.mark.slow

BATCHES, ROWS = 12, 25
WRITER = """
import json, sys, time
from pathlib import Path
import numpy as np
from core.records import Chunk
from core.stores.lance import Config, LanceStore
uri, options, writer, go = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
batches, rows = int(sys.argv[5]), int(sys.argv[6])
store = LanceStore(Config(uri, options))
while not go.exists():  # both start writing at once
    time.sleep(0.01)
for b in range(batches):
    chunks = [Chunk(f"w{writer}b{b}", "notes.txt", f"writer {writer} batch {b} row {r}", r, 0, 1) for r in range(rows)]
    store.add("shared", chunks, np.random.default_rng(writer * 100 + b).random((len(chunks), 8), dtype=np.float32))
"""


def test_two_processes_appending_to_one_table_on_s3_lose_no_row(cluster: Cluster, tmp_path: Path) -> None:
    options = s3_options(cluster.settings)
    uri = "s3://workbench/writers"
    LanceStore(Config(uri, options)).create("shared", dimension=8)
    go = tmp_path / "go"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, uri, json.dumps(options), str(w), str(go), str(BATCHES), str(ROWS)],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in (1, 2)
    ]
    go.touch()
    for w in writers:
        _, errors = w.communicate(timeout=240)
        assert w.returncode == 0, f"a writer failed (a commit conflict must be retried, not raised): {errors[-2000:]}"
    store = LanceStore(Config(uri, options))
    assert store.count("shared") == 2 * BATCHES * ROWS
    assert store.count("shared", document_id="w2b11") == ROWS
    assert (store.size_bytes("shared") or 0) > 0  # measured on the object store


def test_files_are_kept_whole_read_back_and_deleted(cluster: Cluster) -> None:
    objects = Objects("s3://workbench/objects-test", cluster.settings)
    objects.put("files/a", b"first")
    objects.put("files/a", b"second")  # replaced whole
    objects.put("originals/s1/d1.pdf", b"%PDF")
    assert objects.get("files/a") == b"second" and objects.get("files/missing") is None
    assert objects.keys("originals/") == ["originals/s1/d1.pdf"]
    objects.delete_prefix("originals/s1/")
    objects.delete("files/a")
    objects.delete("files/a")  # twice: nothing to say
    assert objects.get("files/a") is None and objects.keys("originals/") == []


def test_a_storage_that_refuses_says_so_in_words(cluster: Cluster) -> None:
    wrong = {**cluster.settings, "AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    objects = Objects("s3://workbench/objects-test", wrong)
    with pytest.raises(
        ObjectStoreUnavailable, match=r"The file storage \(s3://workbench/objects-test\) could not write a"
    ) as refused:
        objects.put("files/a", b"x")
    assert "not-the-secret" not in str(refused.value)
    away = {**cluster.settings, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}  # nothing listens there
    with pytest.raises(ObjectStoreUnavailable, match=r"could not read a: .*127\.0\.0\.1:9"):
        Objects("s3://workbench/x", away).get("files/a")
