"""What only the Milvus backend has: Milvus Lite's one-process lock, its settings, and moving stores between backends."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.config import Settings
from core.errors import BackendUnavailable, InvalidInput
from core.ingest import Upload
from core.options import Filters, IngestOptions, Mode, SearchOptions
from core.stores.milvus import LOCKED, MilvusStore
from core.stores.milvus import Config as MilvusConfig
from core.workbench import Workbench
from tests.conftest import ROOT, filing_pages, make_pdf


def test_a_lite_file_held_by_another_process_is_reported(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "held.db"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from pymilvus import MilvusClient; import time; c = MilvusClient({str(path)!r}); c.list_collections(); print('ready', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        store = MilvusStore(MilvusConfig(uri=str(path)))
        with pytest.raises(BackendUnavailable, match="open in another process .* one process at a time"):
            store.client.list_collections()
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.5)
    assert MilvusStore(MilvusConfig(uri=str(path))).client.list_collections() == []


def test_search_params_must_be_json(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="must be a JSON object"):
        MilvusStore(MilvusConfig(uri=str(tmp_path / "m.db"), search_params="nprobe=16"))
    assert MilvusStore(MilvusConfig(uri=str(tmp_path / "m.db"), search_params='{"nprobe": 16}')).search_params == {
        "nprobe": 16
    }


def test_unreachable_server_is_explained() -> None:
    store = MilvusStore(MilvusConfig(uri="http://127.0.0.1:9"))
    with pytest.raises(BackendUnavailable, match="Could not connect to Milvus at http://127.0.0.1:9"):
        store.client.list_collections()


def test_every_mode_works_on_milvus_and_both_backends_live_side_by_side(workbench: Workbench) -> None:
    workbench.stores.create(workbench.actor("admin"), "lance-kb")
    workbench.stores.create(workbench.actor("admin"), "milvus-kb", backend="milvus")
    pdf = Upload("filing.pdf", make_pdf(filing_pages(5)))
    for name in ("lance-kb", "milvus-kb"):
        [result] = workbench.documents.ingest(workbench.actor("admin"), name, [pdf])
        assert result.chunks > 5
    for mode in Mode:
        hits = workbench.search.run(
            workbench.actor("admin"),
            "milvus-kb",
            "Zebras migrate across the Serengeti plains",
            options=SearchOptions(mode=mode, top_k=3),
        )
        assert (hits[0].filename, hits[0].page) == ("filing.pdf", 3), mode
    both = workbench.search.run(
        workbench.actor("admin"), "lance-kb,milvus-kb", "dividend per share", options=SearchOptions(top_k=4)
    )
    assert {h.store for h in both} == {"lance-kb", "milvus-kb"}


def test_export_from_lancedb_and_import_into_milvus_gives_the_same_results(
    workbench: Workbench, tmp_path: Path
) -> None:
    workbench.stores.create(workbench.actor("admin"), "kb")
    workbench.documents.ingest(
        workbench.actor("admin"),
        "kb",
        [Upload("filing.pdf", make_pdf(filing_pages(5))), Upload("notes.txt", b"The launch moved to June.")],
    )
    for suffix in ("parquet", "jsonl"):
        exported = workbench.stores.export(workbench.actor("admin"), "kb", fmt=suffix)
        path = exported.path.rename(tmp_path / f"kb.{suffix}")
        assert exported.path.parent == workbench.settings.data_dir / "exports"  # never a path a page chose
        assert exported.chunks == workbench.stores.visible(workbench.actor("admin"))[0].chunks
        moved = workbench.stores.import_(
            workbench.actor("admin"), path.read_bytes(), filename=path.name, name=f"kb-{suffix}", backend="milvus"
        )
        assert (moved.backend, moved.embedding_model, moved.chunk_size) == ("milvus", "local/all-minilm-l6-v2", 512)
        for query in ("Zebras migrate across the Serengeti", "When is the launch?"):
            before = [
                (h.filename, h.chunk_index, round(h.score, 4))
                for h in workbench.search.run(
                    workbench.actor("admin"), "kb", query, options=SearchOptions(mode=Mode.VECTOR)
                )
            ]
            after = [
                (h.filename, h.chunk_index, round(h.score, 4))
                for h in workbench.search.run(
                    workbench.actor("admin"), f"kb-{suffix}", query, options=SearchOptions(mode=Mode.VECTOR)
                )
            ]
            assert after == before
    assert json.loads((tmp_path / "kb.jsonl").read_text().splitlines()[0])["store"]["name"] == "kb"


def test_import_keeps_the_exported_name_unless_told_otherwise(workbench: Workbench, tmp_path: Path) -> None:
    workbench.stores.create(workbench.actor("admin"), "kb")
    workbench.documents.ingest(
        workbench.actor("admin"),
        "kb",
        [Upload("a.txt", b"Alpha text.")],
        options=IngestOptions(metadata={"team": "ops"}),
    )
    for fmt in ("jsonl", "parquet"):
        data = workbench.stores.export(workbench.actor("admin"), "kb", fmt=fmt).path.read_bytes()
        workbench.stores.delete(workbench.actor("admin"), "kb")
        assert workbench.stores.import_(workbench.actor("admin"), data, filename=f"kb.{fmt}").name == "kb"
        [hit] = workbench.search.run(
            workbench.actor("admin"), "kb", "alpha", options=SearchOptions(filters=Filters(metadata={"team": "ops"}))
        )
        assert hit.filename == "a.txt"
        assert workbench.services.backend("lancedb").scan(
            workbench.stores.get(workbench.actor("admin"), "kb").collection, batch=10
        ).__next__()[0][0].metadata == {"team": "ops"}  # chunk metadata survives both formats
    with pytest.raises(InvalidInput, match="bad.jsonl is not a store export"):
        workbench.stores.import_(workbench.actor("admin"), b'{"hello": 1}\n', filename="bad.jsonl")


def test_power_users_add_their_own_milvus_filter_on_metadata(settings: Settings) -> None:
    workbench = Workbench(settings.replace(milvus_filter='metadata["team"] == "finance"'))
    workbench.stores.create(workbench.actor("admin"), "kb", backend="milvus")
    workbench.documents.ingest(
        workbench.actor("admin"),
        "kb",
        [Upload("a.txt", b"Budget for the pump repair.")],
        options=IngestOptions(metadata={"team": "finance"}),
    )
    workbench.documents.ingest(
        workbench.actor("admin"),
        "kb",
        [Upload("b.txt", b"Pump repair steps.")],
        options=IngestOptions(metadata={"team": "maintenance"}),
    )
    for mode in (Mode.VECTOR, Mode.FULLTEXT):
        assert [
            h.filename
            for h in workbench.search.run(
                workbench.actor("admin"), "kb", "pump repair", options=SearchOptions(mode=mode)
            )
        ] == ["a.txt"]


@pytest.mark.parametrize("backend", ["lancedb", "milvus"])
def test_create_ingest_and_search_in_separate_processes(backend: str, settings: Settings, tmp_path: Path) -> None:
    """Each command its own process, as people use the CLI: a store filled by one is searchable by the next."""
    import os

    Workbench(settings)  # the built-in administrator
    env = {**os.environ, "WORKBENCH_DATA_DIR": str(settings.data_dir), "WORKBENCH_SECRETS_FILE": str(tmp_path / "x")}
    report = tmp_path / "report.pdf"
    report.write_bytes(make_pdf(filing_pages(5)))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "core", *args, "--user", "admin"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
        assert "NotImplementedError" not in done.stderr + done.stdout
        return done

    run("store", "create", "kb", "--backend", backend)
    run("ingest", "kb", str(report))
    hits = json.loads(run("search", "kb", "When do zebras migrate?", "--json").stdout)
    assert hits and hits[0]["page"] == 3


def test_an_ingest_into_a_held_lite_file_says_so_first_and_only_that(settings: Settings, tmp_path: Path) -> None:
    """The lock is met before any file is parsed or embedded, and stderr holds our sentence, no library traceback."""
    import os

    env = {**os.environ, "WORKBENCH_DATA_DIR": str(settings.data_dir), "WORKBENCH_SECRETS_FILE": str(tmp_path / "x")}
    subprocess.run([sys.executable, "-m", "core", "store", "create", "kb", "--backend", "milvus"],
                   cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)  # fmt: skip
    holder = subprocess.Popen(
        [sys.executable, "-c", "from pymilvus import MilvusClient; import sys, time; c = MilvusClient(sys.argv[1]); "
         "c.list_collections(); print('ready', flush=True); time.sleep(120)", str(settings.data_dir / "milvus.db")],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    report = tmp_path / "report.pdf"
    report.write_bytes(make_pdf(filing_pages(40)))
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        done = subprocess.run([sys.executable, "-m", "core", "ingest", "kb", str(report), "--user", "admin"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"error: {LOCKED.format(uri=settings.data_dir / 'milvus.db')}"]
    usage = Workbench(settings).catalog.usage()
    assert not [e for e in usage if e.kind == "embedding"]  # nothing was embedded before the lock was met
