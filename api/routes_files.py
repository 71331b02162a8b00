"""/v1/files, /v1/models and /v1/embeddings."""

from __future__ import annotations

import base64
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, File, Form, UploadFile

from api import shapes
from api.deps import Me, Wb
from core.errors import InvalidInput, TooLarge
from core.jobs import StoredFile

router = APIRouter(prefix="/v1", tags=["files and models"])
READ_CHUNK = 1 << 20


def read_upload(file: UploadFile, limit: int) -> bytes:
    """The uploaded bytes, refused as soon as they pass the upload limit (never read whole first)."""
    parts, size = [], 0
    while block := file.file.read(READ_CHUNK):
        size += len(block)
        if size > limit:
            raise TooLarge(
                f"{file.filename or 'The file'} is over the {limit / 2**20:,.0f} MB upload limit; split it or ask an "
                "administrator to raise WORKBENCH_MAX_UPLOAD_MB."
            )
        parts.append(block)
    return b"".join(parts)


def _file(stored: StoredFile) -> dict[str, Any]:
    return {
        "id": shapes.FILE_PREFIX + stored.id,
        "object": "file",
        "bytes": stored.size_bytes,
        "created_at": shapes.unix(stored.created_at),
        "filename": stored.filename,
        "purpose": stored.purpose,
        "status": "processed",
        "expires_at": None,
        "status_details": None,
    }


@router.post("/files", summary="Upload a file (to add to vector stores)")
def upload_file(
    me: Me,
    wb: Wb,
    file: Annotated[UploadFile, File(description="the file, with its name")],
    purpose: Annotated[str, Form()] = "assistants",
) -> dict[str, Any]:
    data = read_upload(file, wb.settings.max_upload_bytes)
    return _file(wb.files.upload(me, file.filename or "", data, purpose=purpose))


@router.get("/files", summary="List your uploaded files")
def list_files(
    me: Me,
    wb: Wb,
    limit: int | None = None,
    order: str | None = None,
    after: str | None = None,
    purpose: str | None = None,
) -> dict[str, Any]:
    files = [f for f in wb.files.mine(me) if purpose is None or f.purpose == purpose]
    listed = shapes.page(
        files, lambda f: shapes.FILE_PREFIX + f.id, limit=limit or 100, order=order, after=after, before=None
    )
    return {**listed, "data": [_file(f) for f in listed["data"]]}


@router.get("/files/{file_id}", summary="Retrieve an uploaded file's details")
def get_file(file_id: str, me: Me, wb: Wb) -> dict[str, Any]:
    return _file(wb.files.get(me, shapes.bare(file_id, shapes.FILE_PREFIX, "file")))


@router.delete("/files/{file_id}", summary="Delete an uploaded file (what stores made of it stays)")
def delete_file(file_id: str, me: Me, wb: Wb) -> dict[str, Any]:
    wb.files.delete(me, shapes.bare(file_id, shapes.FILE_PREFIX, "file"))
    return {"id": file_id, "object": "file", "deleted": True}


@router.get("/models", summary="The models the caller may use (the defaults first)")
def models(me: Me, wb: Wb) -> dict[str, Any]:
    data = [
        {"id": n, "object": "model", "created": 0, "owned_by": "rag-workbench", "kinds": list(k)}
        for n, k in wb.models.usable(me).items()
    ]
    return {"object": "list", "data": data}


@router.post("/embeddings", summary="Embed texts with one of the workbench's embedding models")
def embeddings(body: shapes.EmbeddingRequest, me: Me, wb: Wb) -> dict[str, Any]:
    texts = [body.input] if isinstance(body.input, str) else list(body.input)
    model, vectors = wb.search.embed(me, texts, model=body.model)
    if body.dimensions is not None and body.dimensions != vectors.shape[1]:
        raise InvalidInput(f"{model} makes {vectors.shape[1]}-dimensional vectors; it cannot make {body.dimensions}.")
    as_base64 = body.encoding_format == "base64"
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode("ascii")
            if as_base64
            else [float(x) for x in v],
        }
        for i, v in enumerate(vectors)
    ]
    tokens = sum(max(1, len(t) // 4) for t in texts)  # an estimate (about four characters a token)
    return {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
