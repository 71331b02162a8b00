"""Rows to records and back, and the small helpers every table group shares."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from core.catalog.schema import conversation_stores, stores
from core.grounding import Grounding
from core.records import ChatMessage, Citation, Conversation, Document, DocumentStatus, MessageStatus, Store, User

WORKER = f"{socket.gethostname()}:{os.getpid()}"  # who writes a processing document (see `abandoned`)
IN_HAND: set[str] = set()  # processing documents an ingest of this process is still writing (the others it gave up)
GAVE_UP = threading.Event()  # set when this process let go of documents the catalog could not be told about


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


def worker_alive(worker: str | None) -> bool:
    """Whether the process named host:pid still runs; one on another host is assumed to (it sweeps its own)."""
    host, _, pid = (worker or "").rpartition(":")
    if not host or not pid.isdigit():
        return False  # written before workers were recorded: no process of that version is still writing
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return int(pid) != 0


def new_key(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None  # an insert into a table with an integer key
    return int(key[0])


def title_of(text: str) -> str:
    words = " ".join(text.split())
    return (words[:77] + "…") if len(words) > 80 else (words or "New conversation")


def link_stores(conn: sa.Connection, conversation_id: str, linked: Sequence[Store]) -> None:
    if linked:
        conn.execute(
            conversation_stores.insert(),
            [{"conversation_id": conversation_id, "store_id": s.id, "position": i} for i, s in enumerate(linked)],
        )


def linked_names(conn: sa.Connection, ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
    names: dict[str, list[str]] = {i: [] for i in ids}
    if ids:
        rows = conn.execute(
            sa.select(conversation_stores.c.conversation_id, stores.c.name)
            .join(stores, stores.c.id == conversation_stores.c.store_id)
            .where(conversation_stores.c.conversation_id.in_(list(ids)))
            .order_by(conversation_stores.c.position)
        )
        for row in rows:
            names[row.conversation_id].append(row.name)
    return {k: tuple(v) for k, v in names.items()}


def conversation_of(row: RowMapping, names: tuple[str, ...]) -> Conversation:
    return Conversation(
        id=row["id"],
        user=row["user_name"],
        title=row["title"],
        stores=names,
        created_at=utc(row["created_at"]),
        updated_at=utc(row["updated_at"]),
        options=dict(row["options"] or {}),
    )


def message_of(row: RowMapping) -> ChatMessage:
    return ChatMessage(
        id=row["id"],
        conversation_id=row["conversation_id"],
        role=row["role"],
        content=row["content"],
        created_at=utc(row["created_at"]),
        status=MessageStatus(row["status"]),
        citations=tuple(Citation(**c) for c in row["citations"] or []),
        sources=tuple(Citation(**c) for c in row["sources"] or []),
        model=row["model"],
        error=row["error"],
        feedback=row["feedback"],
        feedback_comment=row["feedback_comment"],
        mode=row["mode"] or "",
        grounding=Grounding.from_record(row["grounding"]),
    )


def utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def user_of(row: RowMapping) -> User:
    return User(
        name=row["name"],
        is_admin=bool(row["is_admin"]),
        created_at=utc(row["created_at"]),
        disabled=bool(row["disabled"]),
        has_password=bool(row["password_hash"]),
        sessions_valid_after=utc(row["sessions_valid_after"]) if row["sessions_valid_after"] else None,
    )


def store_row(store: Store) -> dict[str, object]:
    return {
        "id": store.id,
        "name": store.name,
        "backend": store.backend,
        "embedding_model": store.embedding_model,
        "embedding_dim": store.embedding_dim,
        "chunk_size": store.chunk_size,
        "chunk_overlap": store.chunk_overlap,
        "chunk_strategy": store.chunk_strategy,
        "owner": store.owner,
        "description": store.description,
        "created_at": store.created_at,
        "generation": store.generation,
        "metadata": dict(store.metadata),
        "redact_personal_data": store.redact_personal_data,
        "ocr": store.ocr,
        "glossary": dict(store.glossary),
        "policy": dict(store.policy),
    }


def store_of(row: RowMapping) -> Store:
    return Store(
        id=row["id"],
        name=row["name"],
        backend=row["backend"],
        embedding_model=row["embedding_model"],
        embedding_dim=row["embedding_dim"],
        chunk_size=row["chunk_size"],
        chunk_overlap=row["chunk_overlap"],
        chunk_strategy=row["chunk_strategy"],
        owner=row["owner"],
        description=row["description"],
        created_at=utc(row["created_at"]),
        generation=int(row["generation"] or 0),
        metadata=row["metadata"] or {},
        redact_personal_data=bool(row["redact_personal_data"]),
        ocr=row["ocr"] or "",
        glossary=row["glossary"] or {},
        policy=row["policy"] or {},
        documents_version=int(row["documents_version"] or 0),
        jobs_version=int(row["jobs_version"] or 0),
    )


def document_row(doc: Document) -> dict[str, object]:
    return {
        "id": doc.id,
        "store_id": doc.store_id,
        "filename": doc.filename,
        "content_hash": doc.content_hash,
        "size_bytes": doc.size_bytes,
        "status": doc.status.value,
        "error": doc.error,
        "chunk_count": doc.chunk_count,
        "page_count": doc.page_count,
        "uploaded_by": doc.uploaded_by,
        "metadata": dict(doc.metadata),
        "notes": list(doc.notes),
        "created_at": doc.created_at,
        "updated_at": doc.created_at,
        "worker": WORKER if doc.status is DocumentStatus.PROCESSING else None,
    }


def document_of(row: RowMapping) -> Document:
    return Document(
        id=row["id"],
        store_id=row["store_id"],
        filename=row["filename"],
        content_hash=row["content_hash"],
        size_bytes=row["size_bytes"],
        status=DocumentStatus(row["status"]),
        error=row["error"],
        chunk_count=row["chunk_count"],
        page_count=row["page_count"],
        uploaded_by=row["uploaded_by"],
        metadata=dict(row["metadata"] or {}),
        notes=tuple(row["notes"] or ()),
        created_at=utc(row["created_at"]),
    )
