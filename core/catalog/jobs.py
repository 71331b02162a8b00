"""Catalog queries: background jobs, each adding one uploaded file to one store."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine, RowMapping

from core.catalog.rows import WORKER, now, utc, worker_alive
from core.catalog.schema import documents, jobs, stores
from core.errors import NotFound
from core.jobs import Job, JobError, JobStatus
from core.records import Channel, DocumentStatus, Store

# A store's file counts, per process, kept while its jobs and documents versions are unchanged (a vector-store object
# shows them: counting a store of ten thousand files at every retrieval would grow with it).
FILES_CACHED_STORES = 20_000
FILES_CACHE: dict[tuple[str, str], tuple[tuple[int, int], tuple[dict[str, int], int]]] = {}
FILES_LOCK = threading.Lock()

FILE_STATUS = {  # a job's or a document's status, as a store's file shows it
    JobStatus.QUEUED.value: "in_progress",
    JobStatus.RUNNING.value: "in_progress",
    JobStatus.COMPLETED.value: "completed",
    JobStatus.FAILED.value: "failed",
    JobStatus.CANCELLED.value: "cancelled",
    DocumentStatus.PROCESSING.value: "in_progress",
    DocumentStatus.READY.value: "completed",
}


def _job(row: RowMapping) -> Job:
    return Job(
        id=row["id"],
        store_id=row["store_id"],
        file_id=row["file_id"],
        filename=row["filename"],
        size_bytes=row["size_bytes"],
        user=row["user_name"],
        status=JobStatus(row["status"]),
        created_at=utc(row["created_at"]),
        channel=Channel(row["channel"]),
        key_id=row["key_id"],
        batch_id=row["batch_id"],
        options=row["options"] or {},
        stage=row["stage"] or "",
        done=row["done"],
        total=row["total"],
        document_id=row["document_id"],
        error_code=JobError(row["error_code"]) if row["error_code"] else None,
        error=row["error"],
        started_at=utc(row["started_at"]) if row["started_at"] else None,
        finished_at=utc(row["finished_at"]) if row["finished_at"] else None,
        worker=row["worker"],
        attempts=row["attempts"] or 0,
    )


class JobQueries:
    engine: Engine
    url: str

    def add_jobs(self, new: Sequence[Job]) -> list[Job]:
        """Insert jobs; one whose file already has a live attempt in the store is left out. Returns those added."""
        added = []
        for j in new:
            row = {
                "id": j.id,
                "store_id": j.store_id,
                "file_id": j.file_id,
                "batch_id": j.batch_id,
                "filename": j.filename,
                "size_bytes": j.size_bytes,
                "user_name": j.user,
                "channel": j.channel.value,
                "key_id": j.key_id,
                "options": dict(j.options),
                "status": j.status.value,
                "created_at": j.created_at,
                "error_code": j.error_code.value if j.error_code else None,
                "error": j.error,
                "finished_at": j.finished_at,
            }
            try:
                with self.engine.begin() as conn:
                    conn.execute(jobs.insert().values(**row))
                    _files_changed(conn, stores.c.id == j.store_id)
            except sa.exc.IntegrityError:  # another request attached the same file a moment ago
                continue
            added.append(j)
        return added

    def get_job(self, job_id: str) -> Job:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).mappings().first()
        if row is None:
            raise NotFound(f"There is no job '{job_id}'.")
        return _job(row)

    def list_jobs(
        self,
        store_id: str,
        *,
        file_id: str | None = None,
        batch_id: str | None = None,
        newest_first: bool = True,
        since: datetime | None = None,
        limit: int | None = None,
        file_ids: Sequence[str] | None = None,
    ) -> list[Job]:
        """A store's jobs; `since`: only those not ended or made since then (what an upload panel shows);
        `file_ids`: only those of these files."""
        query = sa.select(jobs).where(jobs.c.store_id == store_id)
        if file_id is not None:
            query = query.where(jobs.c.file_id == file_id)
        if file_ids is not None:
            query = query.where(jobs.c.file_id.in_(list(set(file_ids))))
        if batch_id is not None:
            query = query.where(jobs.c.batch_id == batch_id)
        if since is not None:
            live = jobs.c.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value])
            query = query.where(sa.or_(live, jobs.c.created_at >= since))
        order = jobs.c.created_at.desc() if newest_first else jobs.c.created_at.asc()
        with self.engine.connect() as conn:
            return [_job(r) for r in conn.execute(query.order_by(order, jobs.c.id).limit(limit)).mappings()]

    def file_counts(self, store: Store) -> tuple[dict[str, int], int]:
        """A store's files counted as `Jobs.files` lists them, by status, and the bytes of the completed ones:
        counted again only when its jobs or documents changed (the versions read with the store), in two grouped
        queries (the list itself is not read)."""
        version = (store.documents_version, store.jobs_version)
        with FILES_LOCK:
            cached = FILES_CACHE.get((self.url, store.id))
        if cached is not None and cached[0] == version:
            return cached[1]
        found = self._file_counts(store.id)
        with FILES_LOCK:
            FILES_CACHE[(self.url, store.id)] = (version, found)
            while len(FILES_CACHE) > FILES_CACHED_STORES:
                FILES_CACHE.pop(next(iter(FILES_CACHE)))
        return found

    def _file_counts(self, store_id: str) -> tuple[dict[str, int], int]:
        """Each file's latest job (a completed one only while its document is there), and each document no latest
        job made (added in the app or on the command line)."""
        ranked = (
            sa.select(
                jobs.c.status,
                jobs.c.document_id,
                jobs.c.size_bytes,
                sa.func.row_number()
                .over(partition_by=jobs.c.file_id, order_by=(jobs.c.created_at.desc(), jobs.c.id))
                .label("n"),
            )
            .where(jobs.c.store_id == store_id)
            .subquery()
        )
        latest = sa.select(ranked).where(ranked.c.n == 1).subquery()
        kept = sa.select(documents.c.id).where(documents.c.id == latest.c.document_id).exists()
        by_job = (
            sa.select(latest.c.status, sa.func.count(), sa.func.coalesce(sa.func.sum(latest.c.size_bytes), 0))
            .where(sa.or_(latest.c.status != JobStatus.COMPLETED.value, kept))
            .group_by(latest.c.status)
        )
        claimed = sa.select(latest.c.document_id).where(latest.c.document_id.is_not(None))
        by_document = (
            sa.select(documents.c.status, sa.func.count(), sa.func.coalesce(sa.func.sum(documents.c.size_bytes), 0))
            .where(documents.c.store_id == store_id, documents.c.id.not_in(claimed))
            .group_by(documents.c.status)
        )
        counts = {"in_progress": 0, "completed": 0, "failed": 0, "cancelled": 0}
        used = 0
        with self.engine.connect() as conn:
            for status, count, size in [*conn.execute(by_job).all(), *conn.execute(by_document).all()]:
                shown = FILE_STATUS[status]
                counts[shown] += int(count)
                used += int(size) if shown == "completed" else 0
        return {**counts, "total": sum(counts.values())}, used

    def file_ids(self, store_id: str, document_ids: Sequence[str]) -> dict[str, str]:
        """The file each of these documents came from (a job's; the first, when two files held the same content):
        read for the hits of a search, not for the whole store."""
        if not document_ids:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(jobs.c.document_id, jobs.c.file_id)
                .where(jobs.c.store_id == store_id, jobs.c.document_id.in_(list(set(document_ids))))
                .order_by(jobs.c.created_at.desc(), jobs.c.id)
            ).all()
        return {r.document_id: r.file_id for r in rows}  # the oldest last: it wins

    def claim_job(self, lease_s: float = 60.0) -> Job | None:
        """The oldest job waiting, now held by this process for `lease_s` seconds (renewed while it runs): a queued
        one, or a running one whose holder let its lease run out (stopped, on whatever machine). None when nothing
        waits or another process took it first."""
        at = now()
        expired = sa.or_(  # a lease that ran out, or a job claimed by a version before leases, running for as long
            jobs.c.lease_until < at,
            sa.and_(jobs.c.lease_until.is_(None), jobs.c.started_at < at - timedelta(seconds=lease_s)),
        )
        claimable = sa.or_(
            jobs.c.status == JobStatus.QUEUED.value, sa.and_(jobs.c.status == JobStatus.RUNNING.value, expired)
        )
        with self.engine.begin() as conn:
            waiting = conn.execute(
                sa.select(jobs.c.id, jobs.c.status, jobs.c.worker).where(claimable).order_by(jobs.c.created_at).limit(5)
            ).all()
            for job_id, status, worker in waiting:
                claimed = conn.execute(
                    jobs.update()
                    .where(  # still as read: another process did not take it meanwhile
                        jobs.c.id == job_id,
                        claimable,
                        jobs.c.worker.is_(None) if worker is None else jobs.c.worker == worker,
                    )
                    .values(
                        status=JobStatus.RUNNING.value,
                        worker=WORKER,
                        lease_until=at + timedelta(seconds=lease_s),
                        attempts=jobs.c.attempts + 1,
                        started_at=at,
                        stage="waiting",
                    )
                )
                if claimed.rowcount == 1:
                    taken_from = worker if status == JobStatus.RUNNING.value else None
                    break
            else:
                return None
        return replace(self.get_job(job_id), taken_from=taken_from)

    def renew_lease(self, job_id: str, lease_s: float) -> bool:
        """Keep holding a running job another `lease_s` seconds; False when it is no longer this process's (it was
        cancelled, or another process took it after the lease ran out): its work must stop."""
        with self.engine.begin() as conn:
            renewed = conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.worker == WORKER, jobs.c.status == JobStatus.RUNNING.value)
                .values(lease_until=now() + timedelta(seconds=lease_s))
            )
        return renewed.rowcount == 1

    def release_job(self, job_id: str, *, failed_attempt: bool = False) -> bool:
        """Give a running job of this process back to the queue, for any process to take at once: the process is
        stopping (not an attempt that failed), or what the job needs is out of reach for now (`failed_attempt`)."""
        with self.engine.begin() as conn:
            released = conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.worker == WORKER, jobs.c.status == JobStatus.RUNNING.value)
                .values(
                    status=JobStatus.QUEUED.value,
                    worker=None,
                    lease_until=None,
                    stage="",
                    done=0,
                    attempts=jobs.c.attempts - (0 if failed_attempt else 1),
                )
            )
        return released.rowcount == 1

    def job_progress(self, job_id: str, *, stage: str, done: int, total: int) -> None:
        with self.engine.begin() as conn:
            _files_changed(conn, _holding([job_id]))
            conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.status == JobStatus.RUNNING.value, jobs.c.worker == WORKER)
                .values(stage=stage[:200], done=done, total=total)
            )

    def finish_job(
        self,
        job_id: str,
        status: JobStatus,
        *,
        document_id: str | None = None,
        error_code: JobError | None = None,
        error: str | None = None,
        note: str = "",
    ) -> None:
        """A running job's end, by the process holding it (`note`: what else happened, kept as its last stage); a job
        cancelled meanwhile stays so, and one another process took over is that process's to end."""
        with self.engine.begin() as conn:
            _files_changed(conn, _holding([job_id]))
            conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.status == JobStatus.RUNNING.value, jobs.c.worker == WORKER)
                .values(
                    status=status.value,
                    lease_until=None,
                    document_id=document_id,
                    error_code=error_code.value if error_code else None,
                    error=error,
                    finished_at=now(),
                    stage=note[:200],
                )
            )

    def cancel_jobs(self, job_ids: Sequence[str]) -> int:
        """Cancel jobs that have not ended (a running one stops at its next batch). Returns how many."""
        with self.engine.begin() as conn:
            _files_changed(conn, _holding(job_ids))
            result = conn.execute(
                jobs.update()
                .where(
                    jobs.c.id.in_(list(job_ids)),
                    jobs.c.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value]),
                )
                .values(status=JobStatus.CANCELLED.value, finished_at=now(), stage="", lease_until=None)
            )
        return int(result.rowcount)

    def job_cancelled(self, job_id: str) -> bool:
        with self.engine.connect() as conn:
            status = conn.execute(sa.select(jobs.c.status).where(jobs.c.id == job_id)).scalar()
        return status in (None, JobStatus.CANCELLED.value)

    def set_job_options(self, job_id: str, options: dict[str, object]) -> None:
        with self.engine.begin() as conn:
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(options=options))

    def delete_jobs(self, store_id: str, file_id: str) -> None:
        with self.engine.begin() as conn:
            _files_changed(conn, stores.c.id == store_id)
            conn.execute(jobs.delete().where(jobs.c.store_id == store_id, jobs.c.file_id == file_id))

    def requeue_orphans(self) -> int:
        """Jobs left running by a process of this machine that has stopped go back to the queue at once (their file
        is kept); another machine's are taken when their lease runs out (`claim_job`). Returns how many."""
        with self.engine.connect() as conn:
            running = conn.execute(
                sa.select(jobs.c.id, jobs.c.worker).where(jobs.c.status == JobStatus.RUNNING.value)
            ).all()
        orphans = [r.id for r in running if not worker_alive(r.worker) and r.worker != WORKER]
        if orphans:
            with self.engine.begin() as conn:
                conn.execute(
                    jobs.update()
                    .where(jobs.c.id.in_(orphans), jobs.c.status == JobStatus.RUNNING.value)
                    .values(status=JobStatus.QUEUED.value, worker=None, lease_until=None, stage="", done=0)
                )
        return len(orphans)


def _holding(job_ids: Sequence[str]) -> sa.ColumnElement[bool]:
    """The stores of these jobs."""
    return stores.c.id.in_(sa.select(jobs.c.store_id).where(jobs.c.id.in_(list(job_ids))).scalar_subquery())


def _files_changed(conn: sa.Connection, which: sa.ColumnElement[bool]) -> None:
    """Move the jobs version of these stores, in the transaction of the change (their file counts are stale)."""
    conn.execute(stores.update().where(which).values(jobs_version=stores.c.jobs_version + 1))
