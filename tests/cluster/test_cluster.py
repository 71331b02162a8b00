"""Several machines on real engines: a cluster started by deploy/cluster.sh (PostgreSQL, SeaweedFS, two API
replicas each with an empty local data folder, two app replicas, HAProxy), driven by the OpenAI SDK. A replica is
killed with kill -9 while its job runs; files go in through both replicas at once; a page is shown by the replica
that did not ingest it; two keys' limits hold across both replicas together."""

from __future__ import annotations

import concurrent.futures
import time

import httpx
import openai
import pytest

from core.catalog import Catalog
from core.jobs import JobStatus
from core.workbench import Workbench
from tests.cluster.conftest import RATE
from tests.conftest import filing_pages, make_pdf
from tests.local_cluster import Cluster, healthy, wait_until

pytestmark = pytest.mark.slow


def client(wb: Workbench, url: str, key: str | None = None) -> openai.OpenAI:
    secret = key or wb.keys.create(wb.actor("olivia"), "cluster test").secret
    return openai.OpenAI(api_key=secret, base_url=f"{url}/v1", max_retries=3, timeout=120)


def wait_files(api: openai.OpenAI, store_id: str, count: int, timeout_s: float = 240) -> list[object]:
    def ended() -> list[object] | None:
        files = api.vector_stores.files.list(vector_store_id=store_id, limit=100).data
        return files if len(files) == count and all(f.status != "in_progress" for f in files) else None

    return wait_until(ended, timeout_s=timeout_s, what=f"{count} files ended", every_s=1.0)  # type: ignore[return-value]


def test_the_replicas_keep_nothing_on_their_own_disk_and_the_app_is_sticky(cluster: Cluster) -> None:
    assert healthy(cluster.replica(1)) and healthy(cluster.replica(2)) and healthy(cluster.api)
    first = httpx.get(f"{cluster.app}/_stcore/health", timeout=10)
    replica = first.cookies.get("WBREPLICA")
    assert first.status_code == 200 and replica in ("app-1", "app-2")
    with httpx.Client(cookies={"WBREPLICA": replica}, timeout=10) as browser:  # a browser session stays on it
        for _ in range(4):
            answer = browser.get(f"{cluster.app}/_stcore/health")
            assert answer.status_code == 200 and "WBREPLICA" not in answer.cookies  # no new replica given


def test_a_job_whose_replica_is_killed_mid_way_is_finished_by_the_other(cluster: Cluster, wb: Workbench) -> None:
    data = make_pdf(filing_pages(150))  # long enough to be caught half done (its index upkeep is no longer in it)
    through_a = client(wb, cluster.replica(1))
    uploaded = through_a.files.create(file=("annual-report.pdf", data), purpose="assistants")
    store = through_a.vector_stores.create(name="killed")
    through_a.vector_stores.files.create(vector_store_id=store.id, file_id=uploaded.id)
    catalog: Catalog = wb.catalog
    kb = catalog.get_store("killed")

    def working() -> str | None:  # the job runs and has written some of its chunks
        [job] = catalog.list_jobs(kb.id)
        assert not job.status.final, f"the job ended before it could be interrupted: {job.status}"
        return job.worker if job.status is JobStatus.RUNNING and job.done > 0 and job.worker else None

    holder = str(wait_until(working, timeout_s=120, what="the job is half done", every_s=0.1))
    victim = next(name for name in ("api-1", "api-2") if holder.endswith(f":{cluster.pid(name)}"))
    survivor = cluster.replica(2 if victim == "api-1" else 1)
    cluster.kill(victim)

    through_b = client(wb, survivor)
    [ended] = wait_files(through_b, store.id, 1)
    assert ended.status == "completed", ended.last_error  # type: ignore[attr-defined]
    [job] = catalog.list_jobs(kb.id)
    assert job.attempts == 2 and job.worker != holder and job.status is JobStatus.COMPLETED
    [document] = wb.documents.of(wb.actor("olivia"), "killed")
    expected = len(wb.documents.preview(wb.actor("olivia"), "annual-report.pdf", data, chunking=kb.chunking).chunks)
    assert document.chunk_count == expected
    assert wb.services.backend(kb.backend).count(kb.collection) == expected  # the killed half is gone, none twice

    cluster.start(victim)  # back: both replicas find it
    for url in (cluster.replica(1), cluster.replica(2)):
        hits = client(wb, url).vector_stores.search(vector_store_id=store.id, query="operating income").data
        assert hits and hits[0].filename == "annual-report.pdf"


def test_four_files_through_both_replicas_at_once_each_go_in_once(cluster: Cluster, wb: Workbench) -> None:
    key = wb.keys.create(wb.actor("olivia"), "four").secret
    replicas = [client(wb, cluster.replica(1), key), client(wb, cluster.replica(2), key)]
    store = replicas[0].vector_stores.create(name="four")
    files = {f"filing-{n}.pdf": make_pdf(filing_pages(n)) for n in (2, 3, 4, 5)}

    def add(item: tuple[int, tuple[str, bytes]]) -> str:
        i, (name, data) = item
        api = replicas[i % 2]
        uploaded = api.files.create(file=(name, data), purpose="assistants")
        api.vector_stores.files.create(vector_store_id=store.id, file_id=uploaded.id)
        return uploaded.id

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(add, enumerate(files.items())))
    ended = wait_files(replicas[1], store.id, 4)
    assert sorted(f.id for f in ended) == sorted(ids)  # type: ignore[attr-defined]
    assert all(f.status == "completed" for f in ended)  # type: ignore[attr-defined]
    documents = wb.documents.of(wb.actor("olivia"), "four")
    assert sorted(d.filename for d in documents) == sorted(files)  # each once
    kb = wb.catalog.get_store("four")
    assert wb.services.backend(kb.backend).count(kb.collection) == sum(d.chunk_count for d in documents)


def test_a_cited_page_is_shown_by_the_replica_that_did_not_ingest_it(cluster: Cluster, wb: Workbench) -> None:
    key = wb.keys.create(wb.actor("olivia"), "pages").secret
    through_a = client(wb, cluster.replica(1), key)
    uploaded = through_a.files.create(file=("filing.pdf", make_pdf(filing_pages(3))), purpose="assistants")
    store = through_a.vector_stores.create(name="pages")
    through_a.vector_stores.files.create_and_poll(vector_store_id=store.id, file_id=uploaded.id, poll_interval_ms=500)
    [job] = wb.catalog.list_jobs(wb.catalog.get_store("pages").id)
    ingested_by = next(n for n in (1, 2) if (job.worker or "").endswith(f":{cluster.pid(f'api-{n}')}"))
    other = cluster.replica(3 - ingested_by)
    answer = httpx.post(
        f"{other}/v1/vector_stores/{store.id}/rag",
        json={"query": "Which warehouse handles the European shipments of spare parts?"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=120,
    ).json()
    cited = next((c for c in answer["citations"] if c["page"] == 2), None)
    assert cited is not None, answer
    page = httpx.get(
        f"{other}/v1/vector_stores/{store.id}/files/{uploaded.id}/pages/{cited['page']}",
        params={"passage": cited["snippet"]},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    assert page.status_code == 200 and page.headers["content-type"] == "image/png"
    assert page.content.startswith(b"\x89PNG") and len(page.content) > 10_000
    missing = httpx.get(
        f"{other}/v1/vector_stores/{store.id}/files/{uploaded.id}/pages/99", headers={"Authorization": f"Bearer {key}"}
    )
    assert missing.status_code == 404 and "has no page 99" in missing.json()["error"]["message"]
    for name in ("api-1", "api-2"):  # nothing of it on either replica's own disk
        assert [p.name for p in cluster.data_dir(name).rglob("*") if p.is_file() and p.suffix == ".pdf"] == []


def test_two_keys_limits_hold_across_both_replicas_together(cluster: Cluster, wb: Workbench) -> None:
    keys = [wb.keys.create(wb.actor("olivia"), f"burst {n}").secret for n in (1, 2)]
    burst = 30  # the bucket of a 300-a-minute limit

    def ask(i: int) -> tuple[int, int]:
        url = cluster.replica(1 + i % 2)
        answer = httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {keys[i // 60]}"}, timeout=30)
        return i, answer.status_code

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(120)))  # 60 per key, every other one through each replica
    elapsed = time.monotonic() - started
    refill = RATE / 60 * elapsed
    for k in (0, 1):
        mine = [(i, status) for i, status in answers if i // 60 == k]
        allowed = sum(status == 200 for _, status in mine)
        assert all(status in (200, 429) for _, status in mine)
        assert burst <= allowed <= burst + refill + 1, (allowed, elapsed)  # one bucket, not one per replica
        assert {i % 2 for i, status in mine if status == 429} == {0, 1}  # both replicas refused
