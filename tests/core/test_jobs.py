"""Background jobs: a file added to a store is ingested by the worker thread; failures say why; a job left running by
a process that died is run again at the next start; keys act as their user and stop when revoked or expired."""

from __future__ import annotations

import socket
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.catalog import now
from core.catalog.schema import api_keys, documents, jobs
from core.config import Settings
from core.errors import NotSignedIn, PermissionDenied, TooLarge
from core.jobs import JobError, JobStatus
from core.objects import ObjectStoreUnavailable
from core.records import Channel
from core.workbench import Workbench, runner
from core.workbench.files import Attach
from tests.conftest import filing_pages, make_pdf


def _wait(wb: Workbench, store: str, file_id: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not wb.jobs.get(wb.actor("admin"), store, file_id).status.final:
        assert time.monotonic() < deadline, "the job did not end"
        time.sleep(0.05)


def _run_jobs(wb: Workbench, *file_ids: str) -> None:
    """Start the worker, wait until these files' jobs have ended, stop it."""
    wb.start_jobs()
    try:
        for file_id in file_ids:
            _wait(wb, "kb", file_id)
    finally:
        wb.runner.stop()


@pytest.fixture
def wb(settings: Settings) -> Workbench:
    workbench = Workbench(settings)
    workbench.stores.create(workbench.actor("admin"), "kb")
    return workbench


def test_a_job_adds_its_file_and_the_store_lists_it(wb: Workbench) -> None:
    me = wb.actor("admin")
    stored = wb.files.upload(me, "filing.pdf", make_pdf(filing_pages(3)))
    [job] = wb.jobs.add(me, "kb", [Attach(stored.id, {"year": 2018})])
    assert job.status is JobStatus.QUEUED
    _run_jobs(wb, stored.id)
    done = wb.jobs.file(me, "kb", stored.id)
    assert done.status == "completed" and done.document_id and done.attributes == {"year": 2018}
    [document] = wb.documents.of(me, "kb")
    assert document.id == done.document_id and document.metadata == {"year": 2018} and document.chunk_count > 0
    ingest = wb.usage.report(me).unique
    assert "ingest" in set(ingest["kind"])


def test_a_damaged_file_fails_with_its_reason_and_the_worker_goes_on(wb: Workbench) -> None:
    me = wb.actor("admin")
    broken = wb.files.upload(me, "broken.docx", b"PK\x03\x04 not really a zip")
    good = wb.files.upload(me, "good.txt", b"Pumps are serviced every 90 days.")
    wb.jobs.add(me, "kb", [Attach(broken.id), Attach(good.id)])
    _run_jobs(wb, good.id, broken.id)
    failed = wb.jobs.get(me, "kb", broken.id)
    assert (
        failed.status is JobStatus.FAILED
        and failed.error_code is JobError.INVALID_FILE
        and "broken.docx" in (failed.error or "")
    )
    assert wb.jobs.get(me, "kb", good.id).status is JobStatus.COMPLETED


def test_a_job_left_running_by_a_dead_process_runs_again_at_the_next_start(settings: Settings) -> None:
    first = Workbench(settings)
    first.stores.create(first.actor("admin"), "kb")
    me = first.actor("admin")
    stored = first.files.upload(me, "notes.txt", b"The launch is planned for the third of May.")
    first.jobs.add(me, "kb", [Attach(stored.id)])
    claimed = first.catalog.claim_job()
    assert claimed is not None and claimed.status is JobStatus.RUNNING
    with first.catalog.engine.begin() as conn:  # as if the process that claimed it had been killed
        conn.execute(jobs.update().values(worker=f"{socket.gethostname()}:{2**22 + 1}"))  # a pid no process has
    second = Workbench(settings)
    _run_jobs(second, stored.id)
    assert second.jobs.get(second.actor("admin"), "kb", stored.id).status is JobStatus.COMPLETED
    assert [d.filename for d in second.documents.of(second.actor("admin"), "kb")] == ["notes.txt"]


def test_a_job_whose_holder_on_another_machine_stopped_is_taken_when_its_lease_runs_out(settings: Settings) -> None:
    """The holder is on another host (its pid cannot be checked): only the lease tells that it stopped. What it
    half-wrote goes, and the file becomes one document with the right chunks, once."""
    first = Workbench(settings)
    me = first.actor("admin")
    first.stores.create(me, "kb")
    stored = first.files.upload(me, "filing.pdf", make_pdf(filing_pages(3)))
    first.jobs.add(me, "kb", [Attach(stored.id)])
    claimed = first.catalog.claim_job(lease_s=60)
    assert claimed is not None and claimed.attempts == 1 and claimed.taken_from is None
    first.runner.run(claimed)  # the whole file written, then the holder "stops" before it could say so:
    [done] = first.documents.of(me, "kb")
    gone = "other-host:4242"
    with first.catalog.engine.begin() as conn:
        conn.execute(
            jobs.update().values(status="running", worker=gone, lease_until=now() + timedelta(seconds=60), stage="")
        )
        conn.execute(documents.update().values(status="processing", worker=gone))
    second = Workbench(settings)
    assert second.catalog.requeue_orphans() == 0  # another machine's process: this one cannot tell it stopped
    assert second.catalog.claim_job(lease_s=60) is None  # its lease still runs
    with second.catalog.engine.begin() as conn:
        conn.execute(jobs.update().values(lease_until=now() - timedelta(seconds=1)))
    _run_jobs(second, stored.id)
    again = second.jobs.get(me, "kb", stored.id)
    assert again.status is JobStatus.COMPLETED and again.attempts == 2 and again.worker != gone
    [ready] = second.documents.of(me, "kb")
    store = second.catalog.get_store("kb")
    assert ready.chunk_count == done.chunk_count and ready.id == again.document_id
    assert second.services.backend(store.backend).count(store.collection) == done.chunk_count  # none twice, none lost


def test_a_process_that_stops_mid_job_hands_it_back_for_another_to_take_at_once(settings: Settings) -> None:
    settings = settings.replace(ingest_batch_chunks=8)  # many batches: the stop is seen between two
    first = Workbench(settings)
    me = first.actor("admin")
    first.stores.create(me, "kb")
    stored = first.files.upload(me, "annual-report.pdf", make_pdf(filing_pages(60)))
    first.jobs.add(me, "kb", [Attach(stored.id)])
    first.start_jobs()
    deadline = time.monotonic() + 120
    while first.jobs.get(me, "kb", stored.id).done == 0:
        assert time.monotonic() < deadline, "the job did not start writing"
        time.sleep(0.05)
    first.runner.stop()  # as a replica stopping (SIGTERM) does
    handed_back = first.jobs.get(me, "kb", stored.id)
    assert handed_back.status is JobStatus.QUEUED and handed_back.worker is None and first.documents.of(me, "kb") == []
    second = Workbench(settings)
    _run_jobs(second, stored.id)
    assert second.jobs.get(me, "kb", stored.id).status is JobStatus.COMPLETED
    assert [d.filename for d in second.documents.of(me, "kb")] == ["annual-report.pdf"]


def test_a_job_whose_servers_kept_stopping_fails_in_words_after_three_attempts(wb: Workbench) -> None:
    me = wb.actor("admin")
    stored = wb.files.upload(me, "crash.pdf", make_pdf(filing_pages(2)))
    wb.jobs.add(me, "kb", [Attach(stored.id)])
    with wb.catalog.engine.begin() as conn:  # three processes took it and stopped (a file that crashes servers?)
        conn.execute(
            jobs.update().values(
                status="running", worker="other-host:1", attempts=3, lease_until=now() - timedelta(seconds=1)
            )
        )
    claimed = wb.catalog.claim_job()
    assert claimed is not None and claimed.attempts == 4 and claimed.taken_from == "other-host:1"
    wb.runner.run(claimed)
    failed = wb.jobs.get(me, "kb", stored.id)
    assert failed.status is JobStatus.FAILED and failed.error_code is JobError.SERVER_ERROR
    assert "The server stopped 3 times while adding crash.pdf, so it was not tried again" in (failed.error or "")
    assert wb.documents.of(me, "kb") == []


def test_a_job_whose_file_storage_is_out_of_reach_waits_instead_of_failing(
    wb: Workbench, monkeypatch: pytest.MonkeyPatch
) -> None:
    me = wb.actor("admin")
    stored = wb.files.upload(me, "notes.txt", b"The launch is planned for the third of May.")
    wb.jobs.add(me, "kb", [Attach(stored.id)])

    def away(_stored: object) -> bytes:
        raise ObjectStoreUnavailable("The file storage (s3://workbench/files) could not read it: connection refused")

    monkeypatch.setattr(runner, "OUT_OF_REACH_WAIT_S", 0.0)
    monkeypatch.setattr(wb.files, "read", away)
    for attempt in (1, 2):
        claimed = wb.catalog.claim_job()
        assert claimed is not None and claimed.attempts == attempt
        wb.runner.run(claimed)
        waiting = wb.jobs.get(me, "kb", stored.id)
        assert waiting.status is JobStatus.QUEUED and waiting.worker is None  # handed back, any process may retry
    claimed = wb.catalog.claim_job()
    assert claimed is not None and claimed.attempts == 3
    wb.runner.run(claimed)  # the third time it says so
    failed = wb.jobs.get(me, "kb", stored.id)
    assert failed.status is JobStatus.FAILED and "could not read it: connection refused" in (failed.error or "")


def test_a_lease_is_renewed_by_its_holder_only_and_a_stale_holder_cannot_end_the_job(wb: Workbench) -> None:
    me = wb.actor("admin")
    stored = wb.files.upload(me, "notes.txt", b"The launch is planned for the third of May.")
    wb.jobs.add(me, "kb", [Attach(stored.id)])
    claimed = wb.catalog.claim_job(lease_s=5)
    assert claimed is not None
    before = _lease_until(wb)
    assert wb.catalog.renew_lease(claimed.id, 60) and _lease_until(wb) > before + timedelta(seconds=30)
    with wb.catalog.engine.begin() as conn:  # another process took it after a stall of this one
        conn.execute(jobs.update().values(worker="other-host:7", lease_until=now() + timedelta(seconds=60)))
    assert not wb.catalog.renew_lease(claimed.id, 60)  # this process must stop its work
    wb.catalog.finish_job(claimed.id, JobStatus.FAILED, error="stale")
    assert wb.jobs.get(me, "kb", stored.id).status is JobStatus.RUNNING  # the new holder's to end
    assert wb.jobs.cancel(me, "kb", [claimed.id]) == 1  # cancel works whoever holds it
    assert not wb.catalog.renew_lease(claimed.id, 60)


def _lease_until(wb: Workbench):  # type: ignore[no-untyped-def]
    with wb.catalog.engine.connect() as conn:
        value = conn.execute(sa.select(jobs.c.lease_until)).scalar_one()
    return value if value.tzinfo else value.replace(tzinfo=now().tzinfo)


def test_a_cancelled_job_keeps_nothing(wb: Workbench) -> None:
    me = wb.actor("admin")
    stored = wb.files.upload(me, "notes.txt", b"Some words.")
    [job] = wb.jobs.add(me, "kb", [Attach(stored.id)])
    assert wb.jobs.cancel(me, "kb", [job.id]) == 1
    wb.start_jobs()
    wb.runner.stop()
    assert wb.jobs.get(me, "kb", stored.id).status is JobStatus.CANCELLED and wb.documents.of(me, "kb") == []
    assert wb.jobs.file(me, "kb", stored.id).status == "cancelled"


def test_an_upload_over_the_limit_is_refused(settings: Settings) -> None:
    wb = Workbench(settings.replace(max_upload_mb=1))
    with pytest.raises(TooLarge, match="over the 1 MB upload limit"):
        wb.files.upload(wb.actor("admin"), "big.txt", b"x" * (2**20 + 1))


def test_keys_act_as_their_user_until_revoked_or_expired(wb: Workbench) -> None:
    admin = wb.actor("admin")
    wb.users.add(admin, "vic", password="correct horse battery")
    made = wb.keys.create(wb.actor("vic"), "notebook", expires_days=30)
    actor = wb.keys.authenticate(made.secret)
    assert (actor.name, actor.channel, actor.key_id) == ("vic", Channel.API, made.key.id)
    assert [k.id for k in wb.keys.mine(wb.actor("vic"))] == [made.key.id] and made.secret.startswith(made.key.prefix)
    with pytest.raises(NotSignedIn, match="not valid"):
        wb.keys.authenticate(made.secret + "x")
    wb.users.set_disabled(admin, "vic", True)
    with pytest.raises(PermissionDenied, match="disabled"):
        wb.keys.authenticate(made.secret)
    wb.users.set_disabled(admin, "vic", False)
    with wb.catalog.engine.begin() as conn:
        conn.execute(sa.update(api_keys).values(expires_at=now() - timedelta(seconds=1)))
    with pytest.raises(NotSignedIn, match="expired"):
        wb.keys.authenticate(made.secret)
    other = wb.keys.create(wb.actor("vic"), "laptop")
    wb.keys.revoke(admin, other.key.id)  # an administrator may revoke anyone's
    with pytest.raises(NotSignedIn, match="revoked"):
        wb.keys.authenticate(other.secret)
