"""The worker thread that runs background jobs: claims one from the catalog, ingests its file, records the end."""

from __future__ import annotations

import logging
import threading
import time

from core.catalog import Catalog
from core.errors import (
    BackendUnavailable,
    InvalidInput,
    ParseError,
    PermissionDenied,
    UnsupportedFileType,
    WorkbenchError,
)
from core.ingest import Progress, Upload, content_hash
from core.jobs import Job, JobError, JobStatus
from core.options import ChunkSettings, IngestOptions
from core.records import Channel, IngestStatus
from core.redact import redact
from core.workbench.documents import Documents
from core.workbench.files import Files
from core.workbench.services import Services

log = logging.getLogger(__name__)

STOPPED = (
    "The server stopped {n} times while adding {name}, so it was not tried again: the file may be too large or "
    "damaged for this server. Split it or upload it again; the administrator's logs say what stopped the server."
)

POLL_S = 2.0  # how often an idle worker looks for jobs queued by another process
MAX_ATTEMPTS = 3  # a job whose process stopped this often (a file that crashes servers?) fails in words
OUT_OF_REACH_WAIT_S = 10.0  # after a job was handed back because its file storage was out of reach
PROGRESS_EVERY_S = 0.5  # a job's progress is written at most this often


class JobRunner:
    """One per process that serves users (the app, the API server); the command line runs its ingest itself."""

    def __init__(self, services: Services, documents: Documents, files: Files) -> None:
        self._s = services
        self._catalog = services.catalog
        self._documents = documents
        self._files = files
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the worker (once); jobs a stopped process left running are queued again first."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            requeued = self._catalog.requeue_orphans()
            if requeued:
                log.warning("%d jobs left running by a stopped process were queued again", requeued)
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="workbench-jobs", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        self._s.jobs_waiting.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                job = self._catalog.claim_job(self._s.settings.job_lease_s)
            except Exception:  # the catalog out of reach: try again later
                log.warning("could not look for jobs", exc_info=True)
                job = None
            if job is None:
                self._tidy()
                self._s.jobs_waiting.wait(POLL_S)
                self._s.jobs_waiting.clear()
                continue
            self.run(job)

    def _tidy(self) -> None:
        """While idle: clean up documents an ingest gave up half-written (its catalog went away meanwhile)."""
        try:
            self._s.tidy()
        except Exception:  # still out of reach: next time
            log.debug("could not tidy interrupted documents", exc_info=True)

    def run(self, job: Job) -> None:
        """Run one claimed job to its end, renewing its lease meanwhile; nothing it raises escapes (the worker goes
        on with the next)."""
        if job.taken_from:
            log.warning("job %s (%s): taken over from %s, whose lease ran out", job.id, job.filename, job.taken_from)
        lease = Lease(self._catalog, job.id, self._s.settings.job_lease_s)
        try:
            with lease:
                status, document_id, code, error, note = self._ingest(job, lease)
        except BackendUnavailable as exc:  # the file storage or catalog out of reach: the job waits, it is not lost
            if job.attempts < MAX_ATTEMPTS and self._hand_back(job, str(exc)):
                self._stop.wait(OUT_OF_REACH_WAIT_S)
                return
            status, document_id, code, error, note = JobStatus.FAILED, None, JobError.SERVER_ERROR, str(exc), ""
        except Exception as exc:  # a bug or a crash in native code: the job fails in words, the worker lives
            log.exception("job %s (%s) failed", job.id, job.filename)
            status, document_id, code, note = JobStatus.FAILED, None, JobError.SERVER_ERROR, ""
            error = f"The server failed while adding {job.filename}: {redact(str(exc)) or type(exc).__name__}."
        if status is JobStatus.CANCELLED and lease.lost:  # another process holds it now: its end is theirs
            return
        if status is JobStatus.CANCELLED and self._stop.is_set() and self._catalog.release_job(job.id):
            log.info("job %s (%s): handed back to the queue as this process stops", job.id, job.filename)
            return
        try:
            self._catalog.finish_job(job.id, status, document_id=document_id, error_code=code, error=error, note=note)
        except Exception:  # the catalog out of reach: the lease runs out and a process runs the job again
            log.warning("job %s (%s): its end could not be recorded", job.id, job.filename, exc_info=True)
            return
        log.info("job %s (%s): %s", job.id, job.filename, status.value)

    def _hand_back(self, job: Job, why: str) -> bool:
        try:
            released = self._catalog.release_job(job.id, failed_attempt=True)
        except Exception:  # the catalog itself out of reach: its lease runs out instead
            log.warning("job %s (%s) could not be handed back: %s", job.id, job.filename, why)
            return True
        if released:
            log.warning("job %s (%s) handed back, to try again: %s", job.id, job.filename, why)
        return released

    def _ingest(self, job: Job, lease: Lease) -> tuple[JobStatus, str | None, JobError | None, str | None, str]:
        try:
            actor = self._s.actor(job.user, Channel(job.channel), key_id=job.key_id)
            store = self._catalog.get_store_by_id(job.store_id)
            stored = self._catalog.get_file(job.file_id)
            data = self._files.read(stored)
            if job.taken_from:  # what the stopped holder half-wrote goes, so that the file becomes one document
                self._s.abandon(store, content_hash(data), job.taken_from)
        except BackendUnavailable:
            raise  # out of reach for now: `run` hands the job back
        except WorkbenchError as exc:
            return JobStatus.FAILED, None, JobError.SERVER_ERROR, str(exc), ""
        if job.attempts > MAX_ATTEMPTS:
            stopped = job.attempts - 1
            return JobStatus.FAILED, None, JobError.SERVER_ERROR, STOPPED.format(n=stopped, name=job.filename), ""
        options = job.options
        chunking = options.get("chunking")
        vision = options.get("vision") or {}
        ocr = options.get("ocr")
        parse = None
        try:
            if (isinstance(vision, dict) and vision) or ocr:
                vision = vision if isinstance(vision, dict) else {}
                parse = self._documents.parse_options(
                    actor, store.name, vision_model=vision.get("model"), vision_prompt=vision.get("prompt"),
                    ocr=str(ocr) if ocr else None,
                )  # fmt: skip
            ingest = IngestOptions(
                chunking=ChunkSettings(**chunking) if isinstance(chunking, dict) else None,
                metadata=dict(options.get("attributes") or {}),  # type: ignore[call-overload]
                parse=parse,
            )
        except WorkbenchError as exc:
            return JobStatus.FAILED, None, JobError.INVALID_FILE, str(exc), ""
        last = [0.0]

        def progress(event: Progress) -> None:
            if time.monotonic() - last[0] < PROGRESS_EVERY_S and not event.stage.final:
                return
            last[0] = time.monotonic()
            stage = event.message.removeprefix(f"{event.filename}: ")
            self._catalog.job_progress(job.id, stage=stage, done=round(event.overall * 1000), total=1000)

        try:
            [result] = self._documents.ingest(
                actor,
                store.name,
                [Upload(stored.filename, data)],
                options=ingest,
                on_progress=progress,
                cancelled=lambda: lease.lost or self._stop.is_set() or self._catalog.job_cancelled(job.id),
            )
        except PermissionDenied as exc:  # the user lost the right to edit the store while the job waited
            return JobStatus.FAILED, None, JobError.SERVER_ERROR, str(exc), ""
        except UnsupportedFileType as exc:
            return JobStatus.FAILED, None, JobError.UNSUPPORTED_FILE, str(exc), ""
        except (InvalidInput, ParseError) as exc:
            return JobStatus.FAILED, None, JobError.INVALID_FILE, str(exc), ""
        except WorkbenchError as exc:
            return JobStatus.FAILED, None, JobError.SERVER_ERROR, str(exc), ""
        if result.status is IngestStatus.DUPLICATE:
            return JobStatus.COMPLETED, result.document_id, None, None, f"Already there: {result.error}"
        if result.status is IngestStatus.WRITTEN:
            return JobStatus.COMPLETED, result.document_id, None, None, " ".join(result.warnings)
        if result.status is IngestStatus.CANCELLED:
            return JobStatus.CANCELLED, None, None, None, ""
        return JobStatus.FAILED, result.document_id, JobError.INVALID_FILE, result.error, ""


class Lease:
    """A claimed job's lease, renewed every third of its length by a thread while the job runs; `lost` once the
    catalog says the job is no longer this process's (cancelled, or taken by another after a stall), or once the
    catalog could not be told for two thirds of the lease (another process may take the job any moment now)."""

    def __init__(self, catalog: Catalog, job_id: str, lease_s: float) -> None:
        self._catalog, self._job_id, self._lease_s = catalog, job_id, lease_s
        self._done = threading.Event()
        self._renewed = time.monotonic()
        self._lost = False
        self._thread = threading.Thread(target=self._renew, name=f"lease-{job_id[:8]}", daemon=True)

    @property
    def lost(self) -> bool:
        return self._lost or time.monotonic() - self._renewed > self._lease_s * 2 / 3

    def __enter__(self) -> Lease:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _renew(self) -> None:
        while not self._done.wait(self._lease_s / 3):
            try:
                if not self._catalog.renew_lease(self._job_id, self._lease_s):
                    self._lost = True
                    return
                self._renewed = time.monotonic()
            except Exception:  # the catalog out of reach: try again, until `lost` says it is too late
                log.warning("could not renew the lease of job %s", self._job_id, exc_info=True)
