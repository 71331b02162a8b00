"""The cluster under load: deploy/cluster.sh's PostgreSQL, SeaweedFS, API replicas and HAProxy on loopback, driven
through HAProxy by locust (bench/locustfile.py: searches, RAG calls, uploads polled until they are in, each retried
like a careful client), for a fixed time, headless.

    .venv/bin/python bench/cluster.py [--seconds 60] [--users 6] [--lease 15]

Three runs on one cluster: 1 API replica (the other stopped), 2 replicas, and 2 replicas with one killed (kill -9)
halfway. Per run and request type: requests, requests/s, p50 and p95 (ms), failed attempts, operations given up
after every retry; then every file uploaded in the run: ready exactly once (0 lost, 0 duplicated), and how many jobs
were taken over from the killed replica. Loopback only, bounded in users and time.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from common import ROOT, print_table

sys.path.insert(0, str(ROOT))

from core.jobs import JobStatus
from tests.conftest import filing_pages, make_pdf
from tests.local_cluster import Cluster, wait_until

LOCUST = Path(sys.executable).parent / "locust"


def haproxy_state(cluster: Cluster, server: str) -> str:
    """UP or DOWN, as HAProxy's checks see the API replica."""
    rows = httpx.get(f"http://127.0.0.1:{cluster.base + 20}/;csv", timeout=5).text.lstrip("# ").splitlines()
    for row in csv.DictReader(rows):
        if row["pxname"] == "api" and row["svname"] == server:
            return row["status"].split()[0]
    return "?"


def prepare(cluster: Cluster, folder: Path) -> tuple[str, str]:
    """A user, a key and a store of ten filings, made through the API."""
    wb = cluster.workbench(folder / "bench-process")
    wb.users.add(wb.actor("admin"), "analyst", password="correct horse battery")
    key = wb.keys.create(wb.actor("analyst"), "load").secret
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=f"{cluster.api}/v1", headers=headers, timeout=300) as api:
        store = api.post("/vector_stores", json={"name": "load"}).json()["id"]
        for n in range(2, 12):
            uploaded = api.post(
                "/files", files={"file": (f"filing-{n}.pdf", make_pdf(filing_pages(n)))}, data={"purpose": "assistants"}
            ).json()
            api.post(f"/vector_stores/{store}/files", json={"file_id": uploaded["id"]}).raise_for_status()

        def all_in() -> bool:
            files = api.get(f"/vector_stores/{store}/files", params={"limit": 100}).json()["data"]
            return len(files) == 10 and all(f["status"] == "completed" for f in files)

        wait_until(all_in, timeout_s=600, what="the ten filings are in", every_s=1)
    return key, store


def run(
    cluster: Cluster, key: str, store: str, folder: Path, name: str, args: argparse.Namespace, kill_at: float | None
):
    prefix = folder / name.replace(" ", "-")
    uploads = folder / f"{prefix.name}-uploads.jsonl"
    command = [
        str(LOCUST), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless", "-u", str(args.users),
        "-r", str(args.users), "-t", f"{args.seconds}s", "--host", cluster.api, "--csv", str(prefix),
        "--only-summary", "--stop-timeout", "90", "--loglevel", "ERROR", "--exit-code-on-error", "0",
    ]  # fmt: skip
    env = {**cluster.env, "WB_KEY": key, "WB_STORE": store, "WB_UPLOADS": str(uploads)}
    killer = None
    if kill_at is not None:
        killer = threading.Timer(kill_at, cluster.kill, args=("api-2",))
        killer.start()
    started = time.monotonic()
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=args.seconds + 300)
    elapsed = time.monotonic() - started
    if killer is not None:
        killer.join()
    stats = list(csv.DictReader((prefix.parent / f"{prefix.name}_stats.csv").open()))
    return stats, uploads, elapsed


def settle(cluster: Cluster, folder: Path, uploads: Path, lease_s: float) -> dict[str, object]:
    """Wait until every file uploaded in the run has ended, then count: ready once, lost, duplicated."""
    wb = cluster.workbench(folder / "bench-check")
    kb = wb.catalog.get_store("load")
    logged = [json.loads(line) for line in uploads.read_text().splitlines()] if uploads.is_file() else []
    ids = {entry["file_id"].removeprefix("file-") for entry in logged}

    def ended() -> bool:
        jobs = [j for j in wb.catalog.list_jobs(kb.id) if j.file_id in ids]
        return len(jobs) == len(ids) and all(j.status.final for j in jobs)

    wait_until(ended, timeout_s=lease_s + 300, what="every uploaded file has ended", every_s=1)
    jobs = {j.file_id: j for j in wb.catalog.list_jobs(kb.id) if j.file_id in ids}
    names = [d.filename for d in wb.documents.of(wb.actor("admin"), "load")]
    lost = [
        e for e in logged
        if jobs[e["file_id"].removeprefix("file-")].status is not JobStatus.COMPLETED or e["filename"] not in names
    ]  # fmt: skip
    return {
        "uploaded": len(ids),
        "ready once": sum(names.count(e["filename"]) == 1 for e in logged),
        "lost": len(lost),
        "duplicated": sum(names.count(e["filename"]) > 1 for e in logged),
        "taken over": sum(j.attempts > 1 for j in jobs.values()),  # a stopped replica's hand-back is not counted
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="length of each run (default 60)")
    parser.add_argument("--users", type=int, default=6, help="concurrent simulated programs (default 6)")
    parser.add_argument("--lease", type=float, default=15, help="WORKBENCH_JOB_LEASE_S of the cluster (default 15)")
    args = parser.parse_args()
    assert 1 <= args.users <= 32 and 10 <= args.seconds <= 600, "bounded: 1-32 users, 10-600 seconds"
    folder = Path(tempfile.mkdtemp(prefix="wb-bench-cluster-"))
    settings = {"WORKBENCH_API_RATE_PER_MINUTE": "0", "WORKBENCH_JOB_LEASE_S": str(args.lease)}
    started = time.monotonic()
    cluster = Cluster(apis=2, apps=0, settings=settings)
    try:
        print(f"cluster up in {time.monotonic() - started:.0f} s; preparing the store", file=sys.stderr)
        key, store = prepare(cluster, folder)
        rows, outcomes = [], []
        for name, replicas, kill_at in (
            ("1 replica", 1, None),
            ("2 replicas", 2, None),
            ("2 replicas, one killed halfway", 2, args.seconds / 2),
        ):
            if replicas == 1:
                cluster.script("stop-one", "api-2")
                wait_until(lambda: haproxy_state(cluster, "api-2") == "DOWN", timeout_s=30, what="api-2 is out")
            elif not cluster.pid("api-2"):
                cluster.start("api-2")
                wait_until(lambda: haproxy_state(cluster, "api-2") == "UP", timeout_s=30, what="api-2 is in")
            for n in range(1, replicas + 1):  # each replica loads its models before the clock starts
                httpx.post(
                    f"{cluster.replica(n)}/v1/vector_stores/{store}/search",
                    json={"query": "warm up"},
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=300,
                ).raise_for_status()
            print(f"run: {name} ({args.seconds} s, {args.users} users)", file=sys.stderr)
            stats, uploads, elapsed = run(cluster, key, store, folder, name, args, kill_at)
            for row in stats:
                if row["Name"] == "Aggregated":
                    continue
                gave_up = row["Type"] == "GAVE UP"
                rows.append(
                    {
                        "run": name,
                        "request": ("GAVE UP " if gave_up else "") + row["Name"],
                        "requests": int(row["Request Count"]),
                        "req/s": float(row["Requests/s"]),
                        "p50 ms": "" if gave_up else row["50%"],
                        "p95 ms": "" if gave_up else row["95%"],
                        "failed attempts": int(row["Failure Count"]),
                    }
                )
            total = next(r for r in stats if r["Name"] == "Aggregated")
            outcome = settle(cluster, folder, uploads, args.lease)
            outcomes.append(
                {
                    "run": name,
                    "req/s": float(total["Requests/s"]),
                    "failed attempts": int(total["Failure Count"]),
                    "gave up": sum(int(r["Request Count"]) for r in stats if r["Type"] == "GAVE UP"),
                    **outcome,
                    "wall s": round(elapsed),
                }
            )
        print_table(rows)
        print()
        print_table(outcomes)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
