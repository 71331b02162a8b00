"""Milvus as a server: a real Milvus 2.3 standalone (PyPI's `milvus`) is refused at once in words, because its
schema needs BM25 (2.5+); and the server code path (`WORKBENCH_MILVUS_URI=http://...`) serves two processes at once,
against milvus-lite's server mode."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import load_settings
from core.errors import BackendUnavailable
from core.options import Mode, SearchOptions
from core.stores.milvus import check_version
from core.workbench import Workbench
from tests.api.conftest import free_port
from tests.conftest import ROOT, filing_pages, make_pdf

pytestmark = pytest.mark.slow


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _wait_port(port: int, process: subprocess.Popen[bytes], timeout_s: float, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while not _listening(port):
        assert process.poll() is None, f"the server stopped: {log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, f"the server did not open port {port}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def milvus_lite_server() -> Iterator[str]:
    """milvus-lite in server mode on a free port (stopped with SIGINT, its clean shutdown)."""
    folder = Path(tempfile.mkdtemp(prefix="wb-milvus-lite-"))
    port = free_port()
    log = folder / "log"
    binary = Path(sys.executable).parent / "milvus-lite"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(binary), "server", "--data-dir", str(folder / "data"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    try:
        _wait_port(port, server, 60, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(folder, ignore_errors=True)


def test_the_server_path_serves_two_processes(milvus_lite_server: str, tmp_path: Path) -> None:
    env = {**os.environ, "WORKBENCH_DATA_DIR": str(tmp_path / "data"), "WORKBENCH_MILVUS_URI": milvus_lite_server}
    settings = load_settings(
        env={k: v for k, v in env.items() if k.startswith("WORKBENCH_")}, secrets_file=tmp_path / "x"
    )
    mine = Workbench(settings)
    admin = mine.actor("admin")
    mine.stores.create(admin, "shared", backend="milvus")
    (tmp_path / "filing.pdf").write_bytes(make_pdf(filing_pages(5)))
    other = subprocess.run(  # another process ingests into the same server...
        [sys.executable, "-m", "core", "ingest", "shared", str(tmp_path / "filing.pdf")],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert other.returncode == 0, other.stderr
    for mode in Mode:  # ...and this one searches what it wrote, every way
        hits = mine.search.run(
            admin, "shared", "Zebras migrate across the Serengeti plains", options=SearchOptions(mode=mode, top_k=3)
        )
        assert hits and (hits[0].filename, hits[0].page) == ("filing.pdf", 3), mode
    [document] = mine.documents.of(admin, "shared")
    store = mine.catalog.get_store("shared")
    assert mine.services.backend("milvus").count(store.collection) == document.chunk_count


def test_versions_too_old_for_bm25_are_refused_in_words() -> None:
    for fine in ("v2.5.10", "v2.6.0", "milvus_lite-3.2.2", "v3.0.0-beta", "master-unknown"):
        check_version(fine, "http://m:19530")
    with pytest.raises(BackendUnavailable, match=r"runs Milvus 2\.4\.9; Milvus stores need Milvus 2\.5 or newer"):
        check_version("v2.4.9", "http://m:19530")


def test_a_real_milvus_2_3_server_is_refused_at_once(tmp_path: Path) -> None:
    """PyPI's `milvus` 2.3: a real standalone server (etcd inside), which would take the schema and drop BM25."""
    milvus = pytest.importorskip("milvus", reason="pip install milvus==2.3.5 (requirements.txt pins it)")
    port = free_port()
    server = milvus.MilvusServer(data_dir=str(tmp_path / "m23"), proxy_port=port)
    server.start()  # blocks until it answers
    try:
        settings = load_settings(env={}, secrets_file=tmp_path / "x", data_dir=tmp_path / "data")
        wb = Workbench(settings.replace(milvus_uri=f"http://127.0.0.1:{port}"))
        with pytest.raises(BackendUnavailable, match=r"runs Milvus 2\.3\.5; Milvus stores need Milvus 2\.5 or newer"):
            wb.stores.create(wb.actor("admin"), "kb", backend="milvus")
        assert [s.name for s in wb.stores.visible(wb.actor("admin"))] == []  # nothing half made
    finally:
        if server.server_proc is not None:
            server.server_proc.terminate()
            try:
                server.server_proc.wait(60)
            except subprocess.TimeoutExpired:
                server.server_proc.kill()
        server.stop()
        shutil.rmtree(tmp_path / "m23", ignore_errors=True)  # about 450 MB: its binaries, etcd and queues
