"""The records of background work: files uploaded to be added to stores, the jobs that add them, and a store's files
as the API lists them."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from core.records import Channel


@dataclass(frozen=True)
class StoredFile:
    """A file uploaded to be added to stores later (the API's files, the Upload page's queue)."""

    id: str
    owner: str
    filename: str
    size_bytes: int
    purpose: str
    created_at: datetime


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


class JobError(enum.StrEnum):
    """Why a job failed, in OpenAI's words for a vector-store file."""

    INVALID_FILE = "invalid_file"  # damaged, empty, too large or hostile
    UNSUPPORTED_FILE = "unsupported_file"  # a type the product does not read
    SERVER_ERROR = "server_error"  # anything else (a backend or model out of reach, an interrupted process)


@dataclass(frozen=True)
class Job:
    """One file being added to one store in the background, and what became of it."""

    id: str
    store_id: str
    file_id: str
    filename: str
    size_bytes: int
    user: str
    status: JobStatus
    created_at: datetime
    channel: Channel = Channel.APP
    key_id: str | None = None
    batch_id: str | None = None
    options: Mapping[str, object] = field(default_factory=dict)
    stage: str = ""
    done: int = 0
    total: int = 0
    document_id: str | None = None
    error_code: JobError | None = None
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    worker: str | None = None  # host:pid of the process running it
    attempts: int = 0  # times a process took it (more than one: its earlier holder stopped)
    taken_from: str | None = None  # when claimed from a holder whose lease ran out: that holder


@dataclass(frozen=True)
class StoreFile:
    """A file of a store as the API lists it: added by a job (with its file id) or uploaded in the app."""

    file_id: str  # the uploaded file's id, or the document's own for a file added in the app
    filename: str
    status: str  # in_progress, completed, failed, cancelled
    created_at: datetime
    size_bytes: int = 0
    document_id: str | None = None
    attributes: Mapping[str, object] = field(default_factory=dict)
    error_code: JobError | None = None
    error: str | None = None
    progress: float = 0.0  # 0..1 while in progress
    job: Job | None = None
