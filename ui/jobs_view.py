"""The Upload page's files on their way into a store: background jobs, so that a reload or another page loses
nothing. Running and recent jobs per store, each file's progress, the time left from the measured rate, and what
happened to each file."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pandas as pd
import streamlit as st

from core.catalog import now
from core.errors import WorkbenchError
from core.jobs import Job, JobStatus
from core.options import IngestOptions
from core.records import Actor, Store
from core.workbench import Workbench
from core.workbench.files import Attach
from ui.html import plain

REFRESH_S = 0.5
RECENT = timedelta(hours=24)
SHOWN = 20  # recent jobs listed
WORDS = {
    JobStatus.QUEUED: "Waiting",
    JobStatus.RUNNING: "Adding",
    JobStatus.COMPLETED: "Added",
    JobStatus.FAILED: "Failed",
    JobStatus.CANCELLED: "Cancelled",
}


def add(wb: Workbench, me: Actor, store: Store, files: Sequence[Any], options: IngestOptions, *, ocr: str = "") -> str:
    """Keep the files and queue them for the store, each with its chunking (and OCR choice); the batch's id."""
    batch = uuid.uuid4().hex
    attach = []
    for f in files:
        stored = wb.files.upload(me, f.name, f.getvalue(), purpose="ingest")
        attach.append(Attach(stored.id, {}, options.chunking_of(f.name), ocr=ocr or None))
    wb.jobs.add(me, store.name, attach, batch_id=batch)
    return batch


def recent(wb: Workbench, me: Actor, store: Store) -> list[Job]:
    since = now() - RECENT
    return wb.jobs.of(me, store.name, since=since, limit=SHOWN)


def _share(job: Job) -> float:
    if job.status.final:
        return 1.0
    return job.done / job.total if job.total else 0.0


def time_left(jobs: Sequence[Job]) -> float | None:
    """Seconds until the unfinished jobs end, from the bytes per second measured since the first of them began."""
    started = [j.started_at for j in jobs if j.started_at is not None]
    if not started:
        return None
    elapsed = (now() - min(started)).total_seconds()
    done = sum(j.size_bytes * _share(j) for j in jobs if j.started_at is not None)
    left = sum(j.size_bytes * (1 - _share(j)) for j in jobs)
    if elapsed < 1 or done <= 0:
        return None
    return left / (done / elapsed)


def outcome(job: Job, chunks: dict[str, int]) -> str:
    if job.status is JobStatus.COMPLETED:
        note = job.stage or f"{chunks.get(job.document_id or '', 0):,} chunks"
        return note
    if job.status is JobStatus.FAILED:
        return job.error or "failed"
    if job.status is JobStatus.CANCELLED:
        return "cancelled: nothing of it was kept"
    return job.stage or "waiting for its turn"


def table(jobs: Sequence[Job], chunks: dict[str, int]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "File": j.filename,
                "Status": "Already there" if j.stage.startswith("Already there") else WORDS[j.status],
                "What happened": outcome(j, chunks),
                "Size (KB)": round(j.size_bytes / 1024, 1),
                "Added by": j.user,
                "Queued (UTC)": f"{j.created_at:%H:%M:%S}",
                "Took": f"{(j.finished_at - j.started_at).total_seconds():,.1f} s"
                if j.finished_at and j.started_at
                else "",
            }
            for j in jobs
        ]
    )


def summary(jobs: Sequence[Job]) -> str:
    added = sum(j.status is JobStatus.COMPLETED and not j.stage.startswith("Already there") for j in jobs)
    there = sum(j.status is JobStatus.COMPLETED and j.stage.startswith("Already there") for j in jobs)
    failed = sum(j.status is JobStatus.FAILED for j in jobs)
    cancelled = sum(j.status is JobStatus.CANCELLED for j in jobs)
    return f"{added} added, {there} already there, {failed} failed." + (f" {cancelled} cancelled." if cancelled else "")


def _draw(jobs: Sequence[Job], batch: str | None, chunks: dict[str, int]) -> None:
    running = [j for j in jobs if not j.status.final]
    if running:
        left = time_left(running)
        estimate = f" · about {left:,.0f} s left" if left is not None else " · estimating the time left…"
        share = sum(_share(j) * j.size_bytes for j in running) / max(1, sum(j.size_bytes for j in running))
        st.progress(share, text=f"{len(running)} file{'s' * (len(running) > 1)} on the way{estimate}")
        for job in running:
            st.progress(_share(job), text=plain(f"{job.filename}: {job.stage or 'waiting for its turn'}"))
    batch = batch or (jobs[0].batch_id if jobs else None)  # this session's last upload, or the store's latest
    mine = [j for j in jobs if j.batch_id == batch] if batch else []
    if mine and all(j.status.final for j in mine):
        unhappy = any(j.status in (JobStatus.FAILED, JobStatus.CANCELLED) for j in mine)
        (st.warning if unhappy else st.success)(summary(mine))
    st.dataframe(table(jobs, chunks), hide_index=True, width="stretch")


def panel(wb: Workbench, me: Actor, store: Store) -> None:
    """Running and recent jobs of the store, redrawn until none is running. Leaving or reloading the page stops
    only this drawing: the files keep going in, and the page picks them up again."""
    jobs = recent(wb, me, store)
    if not jobs:
        return
    st.subheader(
        f"Files on their way into '{plain(store.name)}'" if any(not j.status.final for j in jobs) else "Recent uploads"
    )
    running = [j.id for j in jobs if not j.status.final]
    if running and st.button("Cancel", key="cancel_ingest", help="Stops the files not yet in; those already in stay."):
        try:
            wb.jobs.cancel(me, store.name, running)
        except WorkbenchError as exc:
            st.error(plain(str(exc)))
        st.rerun()
    live = st.empty()
    batch = st.session_state.get("upload_batch")
    while True:
        jobs = recent(wb, me, store)
        if running and all(j.status.final for j in jobs):
            st.rerun()  # all in: the page is drawn again whole, as "Recent uploads" with no Cancel
        shown = [j.document_id for j in jobs if j.document_id]  # the documents of the jobs drawn, not the store's
        chunks = {d.id: d.chunk_count for d in wb.documents.of(me, store.name, ids=shown)}
        with live.container():
            _draw(jobs, batch, chunks)
        if all(j.status.final for j in jobs):
            return
        time.sleep(REFRESH_S)
