"""Uploaded files and the background jobs that add them to stores.

A file is uploaded once (the API's /files, the Upload page's queue) and kept in the file storage (the data folder,
or object storage shared by every machine); adding it to a store makes a job, which a worker thread of any running
process (the app, the API server, on any machine) claims from the catalog and runs through the same ingest as every
front end. A job survives the page or request that made it: one whose process stops mid-job is taken again, by a
process on the same machine at once, by any other when its lease runs out (its file is still kept).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from core import parsing
from core.access import Action
from core.catalog import new_id, now
from core.catalog.jobs import FILE_STATUS
from core.errors import InvalidInput, NotFound, TooLarge
from core.jobs import Job, JobError, JobStatus, StoredFile, StoreFile
from core.options import ChunkSettings
from core.parsing.options import check_ocr
from core.records import Actor, Document, DocumentStatus, Store
from core.workbench.documents import Documents
from core.workbench.services import Services

log = logging.getLogger(__name__)

PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals", "ingest")
MAX_ATTRIBUTES = 16  # per file, as OpenAI allows
MAX_ATTRIBUTE_CHARS = 512


@dataclass(frozen=True)
class Attach:
    """One file to add to a store, with its attributes (filterable document metadata) and chunking."""

    file_id: str
    attributes: Mapping[str, str | int | float | bool] = field(default_factory=dict)
    chunking: ChunkSettings | None = None  # None: the store's own
    vision_model: str | None = None
    vision_prompt: str | None = None
    ocr: str | None = None  # auto, always, never; None: the store's choice


def check_attributes(attributes: Mapping[str, object]) -> dict[str, str | int | float | bool]:
    """Attributes are up to 16 short keys with text, number or true/false values."""
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidInput(f"A file has at most {MAX_ATTRIBUTES} attributes, not {len(attributes)}.")
    checked: dict[str, str | int | float | bool] = {}
    for key, value in attributes.items():
        if not isinstance(key, str) or not key or len(key) > 64:
            raise InvalidInput("Attribute names are 1 to 64 characters.")
        if not isinstance(value, str | int | float | bool) or (
            isinstance(value, str) and len(value) > MAX_ATTRIBUTE_CHARS
        ):
            raise InvalidInput(
                f"The attribute '{key}' must be text (up to {MAX_ATTRIBUTE_CHARS} characters), a number or true/false."
            )
        checked[key] = value
    return checked


def file_key(file_id: str) -> str:
    return f"files/{file_id}"


class Files:
    def __init__(self, services: Services) -> None:
        self._s = services
        self._catalog = services.catalog
        self._objects = services.objects

    def upload(self, actor: Actor, filename: str, data: bytes, *, purpose: str = "assistants") -> StoredFile:
        """Keep a file for later ingest; refused when too large or of a type the product cannot read."""
        name = Path(filename or "").name
        if not name:
            raise InvalidInput("The file has no name; send it with its file name.")
        if purpose not in PURPOSES:
            raise InvalidInput(f"Unknown purpose '{purpose}'; use one of: {', '.join(PURPOSES)}.")
        limit = self._s.settings.max_upload_bytes
        if len(data) > limit:
            raise TooLarge(f"{name} is {len(data) / 2**20:,.1f} MB, over the {limit / 2**20:,.0f} MB upload limit.")
        stored = StoredFile(new_id(), actor.name, name, len(data), purpose, now())
        self._objects.put(file_key(stored.id), data)  # whole or not at all: never half a file under its name
        self._catalog.add_file(stored)
        return stored

    def get(self, actor: Actor, file_id: str) -> StoredFile:
        """A file of the actor's own (any, for an administrator); another user's file does not exist for them."""
        try:
            stored = self._catalog.get_file(file_id)
        except NotFound:
            stored = None
        if stored is None or (stored.owner != actor.name and not actor.is_admin):
            raise NotFound(f"There is no such file: '{file_id}'.")
        return stored

    def mine(self, actor: Actor) -> list[StoredFile]:
        return self._catalog.list_files(actor.name)

    def read(self, stored: StoredFile) -> bytes:
        data = self._objects.get(file_key(stored.id))
        if data is None:
            raise NotFound(
                f"The bytes of {stored.filename} are gone from the file storage ({self._objects.where}); upload it again."
            )
        return data

    def delete(self, actor: Actor, file_id: str) -> None:
        """Remove an uploaded file (what stores already made of it stays in them)."""
        stored = self.get(actor, file_id)
        self._catalog.delete_file(stored.id)
        self._objects.delete(file_key(stored.id))


class Jobs:
    def __init__(self, services: Services, files: Files, documents: Documents) -> None:
        self._s = services
        self._catalog = services.catalog
        self._files = files
        self._documents = documents

    def add(self, actor: Actor, store: str, attach: Sequence[Attach], *, batch_id: str | None = None) -> list[Job]:
        """Queue files to be added to a store (editors); a file already added or on its way is not queued twice."""
        found = self._s.store(actor, store, Action.EDIT)
        made, answer = [], []
        wanted = [item.file_id for item in attach]  # their earlier attempts only, not the store's every job
        existing = {j.file_id: j for j in self._catalog.list_jobs(found.id, newest_first=False, file_ids=wanted)}
        for item in attach:
            stored = self._files.get(actor, item.file_id)
            attributes = check_attributes(item.attributes)
            earlier = existing.get(stored.id)
            if earlier is not None and earlier.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
                answer.append(earlier)
                continue
            if earlier is not None:  # a failed or cancelled attempt is tried again under the same file id
                self._catalog.delete_jobs(found.id, stored.id)
            options: dict[str, object] = {"attributes": attributes}
            if item.chunking is not None:
                options["chunking"] = {
                    "strategy": item.chunking.strategy.value,
                    "size": item.chunking.size,
                    "overlap": item.chunking.overlap,
                }
            if item.vision_model is not None or item.vision_prompt is not None:
                options["vision"] = {"model": item.vision_model, "prompt": item.vision_prompt}
            if item.ocr:
                options["ocr"] = check_ocr(item.ocr)
            job = Job(
                id=new_id(),
                store_id=found.id,
                file_id=stored.id,
                filename=stored.filename,
                size_bytes=stored.size_bytes,
                user=actor.name,
                status=JobStatus.QUEUED,
                created_at=now(),
                channel=actor.channel,
                key_id=actor.key_id,
                batch_id=batch_id,
                options=options,
            )
            if reason := parsing.refusal(stored.filename):  # said at once, not after a wait in the queue
                job = _refused(job, reason)
            made.append(job)
            answer.append(job)
        added = {j.id for j in self._catalog.add_jobs(made)}
        if any(j.status is JobStatus.QUEUED for j in made if j.id in added):
            self._s.jobs_waiting.set()
        # a job another request made first for the same file stands for this one
        return [j if j.id in added or j not in made else self.get(actor, store, j.file_id) for j in answer]

    def of(
        self,
        actor: Actor,
        store: str,
        *,
        batch_id: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[Job]:
        """The store's jobs, newest first (anyone who may read the store); `since`: only those still running or
        made since then, at most `limit` (read as such, however many jobs the store has had)."""
        found = self._s.store(actor, store)
        return self._catalog.list_jobs(found.id, batch_id=batch_id, since=since, limit=limit)

    def get(self, actor: Actor, store: str, file_id: str) -> Job:
        found = self._s.store(actor, store)
        jobs = self._catalog.list_jobs(found.id, file_id=file_id)
        if not jobs:
            raise NotFound(f"There is no such file in '{store}': '{file_id}'.")
        return jobs[0]

    def cancel(self, actor: Actor, store: str, job_ids: Sequence[str]) -> int:
        found = self._s.store(actor, store, Action.EDIT)
        mine = {j.id for j in self._catalog.list_jobs(found.id)}
        return self._catalog.cancel_jobs([i for i in job_ids if i in mine])

    def forget(self, actor: Actor, store: str, file_id: str) -> None:
        """Remove a file from a store (editors): its job is cancelled and forgotten, its document deleted."""
        found = self._s.store(actor, store, Action.EDIT)
        current = self.file(actor, store, file_id)
        if current.job is not None:
            self._catalog.cancel_jobs([current.job.id])
            self._catalog.delete_jobs(found.id, file_id)
        if current.document_id and current.status != "cancelled":
            with contextlib.suppress(NotFound):  # a failed attempt's document may be gone already
                self._documents.delete(actor, store, current.document_id)

    def files(self, actor: Actor, store: str) -> list[StoreFile]:
        """Every file of the store, newest first: each job's file (its latest attempt) and each document added
        without one (in the app or on the command line). A completed job whose document was deleted is gone."""
        found = self._s.store(actor, store)
        documents = {d.id: d for d in self._catalog.list_documents(found)}
        listed: list[StoreFile] = []
        seen_files: set[str] = set()
        claimed: set[str] = set()
        for job in self._catalog.list_jobs(found.id):
            if job.file_id in seen_files:
                continue
            seen_files.add(job.file_id)
            document = documents.get(job.document_id) if job.document_id else None
            if job.document_id:
                claimed.add(job.document_id)
            if job.status is JobStatus.COMPLETED and document is None:
                continue
            listed.append(_from_job(job, document))
        for document in documents.values():
            if document.id not in claimed:
                listed.append(_from_document(document))
        return sorted(listed, key=lambda f: f.created_at, reverse=True)

    def counts(self, actor: Actor, store: str) -> tuple[dict[str, int], int]:
        """The store's files by status (as `files` lists them, with a total) and the bytes of the completed ones,
        counted by the catalog: a store object's figures, without reading its list."""
        return self._catalog.file_counts(self._s.store(actor, store))

    def file(self, actor: Actor, store: str, file_id: str) -> StoreFile:
        """One file of the store, as `files` lists it, read by its id alone (polled while it is processed)."""
        found = self._s.store(actor, store)
        jobs = self._catalog.list_jobs(found.id, file_id=file_id)
        if jobs:
            document = self._document(found, jobs[0].document_id)
            if jobs[0].status is not JobStatus.COMPLETED or document is not None:
                return _from_job(jobs[0], document)
        else:
            document = self._document(found, file_id)
            claimed = document is not None and any(j.document_id == file_id for j in self._catalog.list_jobs(found.id))
            if document is not None and not claimed:
                return _from_document(document)
        raise NotFound(f"There is no such file in '{store}': '{file_id}'.")

    def _document(self, store: Store, document_id: str | None) -> Document | None:
        if not document_id:
            return None
        try:
            return self._catalog.get_document(store, document_id)
        except NotFound:
            return None

    def set_attributes(self, actor: Actor, store: str, file_id: str, attributes: Mapping[str, object]) -> StoreFile:
        """Replace a file's attributes (editors): its document's filterable metadata, now and once it is written."""
        self._s.store(actor, store, Action.EDIT)
        checked = check_attributes(attributes)
        current = self.file(actor, store, file_id)
        if current.job is not None:
            self._catalog.set_job_options(current.job.id, {**current.job.options, "attributes": checked})
        if current.document_id:
            self._catalog.set_document_metadata(current.document_id, checked)
        return self.file(actor, store, file_id)

    def wait(self, actor: Actor, store: str, file_id: str, *, timeout_s: float = 600.0) -> Job:
        """The file's job once it has ended (or as it is when `timeout_s` has passed)."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.get(actor, store, file_id)
            if job.status.final or time.monotonic() >= deadline:
                return job
            time.sleep(0.1)


def _from_job(job: Job, document: Document | None) -> StoreFile:
    status = FILE_STATUS[job.status.value]
    attributes = document.metadata if document is not None else job.options.get("attributes") or {}
    return StoreFile(
        file_id=job.file_id,
        filename=job.filename,
        status=status,
        created_at=job.created_at,
        size_bytes=job.size_bytes,
        document_id=job.document_id,
        attributes=dict(attributes),  # type: ignore[call-overload]
        error_code=job.error_code,
        error=job.error,
        progress=job.done / job.total if job.total else 0.0,
        job=job,
    )


def _from_document(document: Document) -> StoreFile:
    status = FILE_STATUS[document.status.value]
    failed = document.status is DocumentStatus.FAILED
    return StoreFile(
        file_id=document.id,
        filename=document.filename,
        status=status,
        created_at=document.created_at,
        size_bytes=document.size_bytes,
        document_id=document.id,
        attributes=dict(document.metadata),
        error_code=JobError.INVALID_FILE if failed else None,
        error=document.error if failed else None,
    )


def _refused(job: Job, reason: str) -> Job:
    return replace(job, status=JobStatus.FAILED, error_code=JobError.UNSUPPORTED_FILE, error=reason, finished_at=now())
