"""/v1/vector_stores: the stores, their files and file batches, search, and the workbench's upload and RAG."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile

from api import shapes
from api.deps import Me, Wb
from api.routes_files import read_upload
from core import conditions
from core.access import Action
from core.errors import InvalidInput, NotFound, StoreNotFound
from core.jobs import StoreFile
from core.options import AskOptions, ChunkSettings, Reranker
from core.parsing.options import check_ocr
from core.records import Actor, Store
from core.workbench import Workbench
from core.workbench.files import Attach

router = APIRouter(prefix="/v1/vector_stores", tags=["vector stores"])
StoreId = Annotated[str, "vs_…"]
RERANKERS_ON = (None, "auto", "default-2024-11-15", "default")


def _store(wb: Workbench, me: Actor, store_id: str, action: Action = Action.READ) -> Store:
    """The store of a public id, if the key's user may do `action` on it; one they may not see is missing."""
    bare = shapes.bare(store_id, shapes.STORE_PREFIX, "vector store")
    try:
        return wb.stores.by_id(me, bare, action)
    except StoreNotFound:
        raise StoreNotFound(f"There is no vector store '{store_id}'.") from None


def _object(wb: Workbench, me: Actor, store: Store) -> dict[str, Any]:
    last_change = wb.stores.summary(me, store.name).updated_at
    counts, used = wb.jobs.counts(me, store.name)  # counted by the catalog, the file list is not read
    return shapes.vector_store(store, counts, usage_bytes=used, last_active=last_change)


def _no_expiry(expires_after: dict[str, Any] | None) -> None:
    if expires_after:
        raise InvalidInput("Stores here do not expire: leave expires_after out (or null).")


@router.post("", summary="Create a vector store")
def create_store(body: shapes.StoreCreate, me: Me, wb: Wb) -> dict[str, Any]:
    _no_expiry(body.expires_after)
    name = (body.name or "").strip() or f"store {shapes.unix(None)}"
    store = wb.stores.create(
        me,
        name,
        chunking=shapes.chunking(body.chunking_strategy),
        description=body.description or "",
        metadata=body.metadata or {},
    )
    if body.file_ids:
        wb.jobs.add(me, store.name, [Attach(shapes.bare(f, shapes.FILE_PREFIX, "file")) for f in body.file_ids])
    return _object(wb, me, store)


@router.get("", summary="List vector stores")
def list_stores(me: Me, wb: Wb, paging: Annotated[shapes.Paging, Depends()]) -> dict[str, Any]:
    stores = sorted((s.store for s in wb.stores.visible(me)), key=lambda s: s.created_at, reverse=True)
    listed = paging.page(stores, lambda s: shapes.STORE_PREFIX + s.id)
    return {**listed, "data": [_object(wb, me, s) for s in listed["data"]]}


@router.get("/{store_id}", summary="Retrieve a vector store")
def get_store(store_id: StoreId, me: Me, wb: Wb) -> dict[str, Any]:
    return _object(wb, me, _store(wb, me, store_id))


@router.post("/{store_id}", summary="Update a vector store (name, metadata)")
def update_store(store_id: StoreId, body: shapes.StoreUpdate, me: Me, wb: Wb) -> dict[str, Any]:
    _no_expiry(body.expires_after)
    store = _store(wb, me, store_id, Action.MANAGE)
    if body.name is not None and body.name.strip() and body.name != store.name:
        store = wb.stores.rename(me, store.name, body.name)
    if body.metadata is not None:
        store = wb.stores.describe(me, store.name, metadata=body.metadata)
    return _object(wb, me, store)


@router.delete("/{store_id}", summary="Delete a vector store and everything in it")
def delete_store(store_id: StoreId, me: Me, wb: Wb) -> dict[str, Any]:
    store = _store(wb, me, store_id)
    wb.stores.delete(me, store.name)
    return {"id": store_id, "object": "vector_store.deleted", "deleted": True}


# files of a store


@router.post("/{store_id}/files", summary="Add an uploaded file to a vector store (processed in the background)")
def attach_file(store_id: StoreId, body: shapes.FileAttach, me: Me, wb: Wb, response: Response) -> dict[str, Any]:
    store = _store(wb, me, store_id)
    file_id = shapes.bare(body.file_id, shapes.FILE_PREFIX, "file")
    attach = Attach(file_id, body.attributes or {}, shapes.chunking(body.chunking_strategy))
    wb.jobs.add(me, store.name, [attach])
    response.headers["openai-poll-after-ms"] = shapes.POLL_AFTER_MS
    return shapes.vector_store_file(store, wb.jobs.file(me, store.name, file_id))


@router.get("/{store_id}/files", summary="List a vector store's files")
def list_files(
    store_id: StoreId,
    me: Me,
    wb: Wb,
    paging: Annotated[shapes.Paging, Depends()],
    filter: Annotated[str | None, Query(description="in_progress, completed, failed or cancelled")] = None,
) -> dict[str, Any]:
    store = _store(wb, me, store_id)
    return _file_page(store, wb.jobs.files(me, store.name), paging, filter)


def _file_page(store: Store, files: list[StoreFile], paging: shapes.Paging, status: str | None) -> dict[str, Any]:
    """A page of a store's files, optionally of one status."""
    if status not in (None, "in_progress", "completed", "failed", "cancelled"):
        raise InvalidInput(f"filter must be in_progress, completed, failed or cancelled, not '{status}'.")
    chosen = [f for f in files if status is None or f.status == status]
    listed = paging.page(chosen, lambda f: shapes.FILE_PREFIX + f.file_id)
    return {**listed, "data": [shapes.vector_store_file(store, f) for f in listed["data"]]}


@router.get("/{store_id}/files/{file_id}", summary="Retrieve a vector store file")
def get_file(store_id: StoreId, file_id: str, me: Me, wb: Wb, response: Response) -> dict[str, Any]:
    store = _store(wb, me, store_id)
    found = wb.jobs.file(me, store.name, shapes.bare(file_id, shapes.FILE_PREFIX, "file"))
    if found.status == "in_progress":
        response.headers["openai-poll-after-ms"] = shapes.POLL_AFTER_MS
    return shapes.vector_store_file(store, found)


@router.post("/{store_id}/files/{file_id}", summary="Update a vector store file's attributes")
def update_file(store_id: StoreId, file_id: str, body: shapes.FileUpdate, me: Me, wb: Wb) -> dict[str, Any]:
    store = _store(wb, me, store_id)
    found = wb.jobs.set_attributes(
        me, store.name, shapes.bare(file_id, shapes.FILE_PREFIX, "file"), body.attributes or {}
    )
    return shapes.vector_store_file(store, found)


@router.get("/{store_id}/files/{file_id}/content", summary="A vector store file's parsed text, chunk by chunk")
def file_content(store_id: StoreId, file_id: str, me: Me, wb: Wb) -> dict[str, Any]:
    store = _store(wb, me, store_id)
    found = wb.jobs.file(me, store.name, shapes.bare(file_id, shapes.FILE_PREFIX, "file"))
    chunks = (
        wb.documents.chunks(me, store.name, found.document_id)
        if found.status == "completed" and found.document_id
        else []
    )
    return {
        "object": "vector_store.file_content.page",
        "data": [{"type": "text", "text": c.text} for c in chunks],
        "has_more": False,
        "next_page": None,
    }


@router.get(
    "/{store_id}/files/{file_id}/pages/{page}",
    summary="A page of a PDF file as a PNG image, a cited passage outlined (to show a citation as the page itself)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def file_page(
    store_id: StoreId,
    file_id: str,
    page: int,
    me: Me,
    wb: Wb,
    passage: Annotated[str, Query(max_length=4000, description="text to outline where it is found")] = "",
) -> Response:
    store = _store(wb, me, store_id)
    found = wb.jobs.file(me, store.name, shapes.bare(file_id, shapes.FILE_PREFIX, "file"))
    if found.status != "completed" or not found.document_id:
        raise NotFound(f"{found.filename} is not in the store yet ({found.status}).")
    image = wb.documents.page_image(me, store.name, found.document_id, page, passage=passage)
    if image is None:
        raise NotFound(f"{found.filename} has no page {page} to show (only PDF files are kept as pages).")
    return Response(image, media_type="image/png", headers={"cache-control": "private, max-age=3600"})


@router.delete("/{store_id}/files/{file_id}", summary="Remove a file from a vector store")
def delete_file(store_id: StoreId, file_id: str, me: Me, wb: Wb) -> dict[str, Any]:
    store = _store(wb, me, store_id)
    wb.jobs.forget(me, store.name, shapes.bare(file_id, shapes.FILE_PREFIX, "file"))
    return {"id": file_id, "object": "vector_store.file.deleted", "deleted": True}


# file batches


def _batch(wb: Workbench, me: Actor, store: Store, batch_id: str) -> dict[str, Any]:
    bare = shapes.bare(batch_id, shapes.BATCH_PREFIX, "file batch")
    jobs = [j for j in wb.jobs.of(me, store.name, batch_id=bare)]
    if not jobs:
        raise NotFound(f"There is no file batch '{batch_id}'.")
    files = [f for f in wb.jobs.files(me, store.name) if f.job is not None and f.job.batch_id == bare]
    return shapes.batch(store, bare, files, min(j.created_at for j in jobs))


@router.post("/{store_id}/file_batches", summary="Add several uploaded files at once")
def create_batch(store_id: StoreId, body: shapes.BatchCreate, me: Me, wb: Wb, response: Response) -> dict[str, Any]:
    store = _store(wb, me, store_id)
    if bool(body.file_ids) == bool(body.files):
        raise InvalidInput("Send either file_ids or files (one of them, not empty).")
    shared = shapes.chunking(body.chunking_strategy)
    items = [
        Attach(shapes.bare(f, shapes.FILE_PREFIX, "file"), body.attributes or {}, shared) for f in body.file_ids or []
    ] + [
        Attach(
            shapes.bare(f.file_id, shapes.FILE_PREFIX, "file"),
            f.attributes if f.attributes is not None else body.attributes or {},
            shapes.chunking(f.chunking_strategy) or shared,
        )
        for f in body.files or []
    ]
    batch_id = uuid.uuid4().hex
    wb.jobs.add(me, store.name, items, batch_id=batch_id)
    response.headers["openai-poll-after-ms"] = shapes.POLL_AFTER_MS
    return _batch(wb, me, store, shapes.BATCH_PREFIX + batch_id)


@router.get("/{store_id}/file_batches/{batch_id}", summary="Retrieve a file batch")
def get_batch(store_id: StoreId, batch_id: str, me: Me, wb: Wb) -> dict[str, Any]:
    return _batch(wb, me, _store(wb, me, store_id), batch_id)


@router.post("/{store_id}/file_batches/{batch_id}/cancel", summary="Cancel the files of a batch not yet added")
def cancel_batch(store_id: StoreId, batch_id: str, me: Me, wb: Wb) -> dict[str, Any]:
    store = _store(wb, me, store_id)
    bare = shapes.bare(batch_id, shapes.BATCH_PREFIX, "file batch")
    wb.jobs.cancel(me, store.name, [j.id for j in wb.jobs.of(me, store.name, batch_id=bare)])
    return _batch(wb, me, store, batch_id)


@router.get("/{store_id}/file_batches/{batch_id}/files", summary="List a file batch's files")
def batch_files(
    store_id: StoreId,
    batch_id: str,
    me: Me,
    wb: Wb,
    paging: Annotated[shapes.Paging, Depends()],
    filter: str | None = None,
) -> dict[str, Any]:
    store = _store(wb, me, store_id)
    bare = shapes.bare(batch_id, shapes.BATCH_PREFIX, "file batch")
    files = [f for f in wb.jobs.files(me, store.name) if f.job is not None and f.job.batch_id == bare]
    return _file_page(store, files, paging, filter)


# search, and the workbench's own upload and answer


@router.post("/{store_id}/search", summary="Search a vector store")
def search(store_id: StoreId, body: shapes.SearchRequest, me: Me, wb: Wb) -> dict[str, Any]:
    store = _store(wb, me, store_id)
    queries = [body.query] if isinstance(body.query, str) else list(body.query)
    limit = body.max_num_results if body.max_num_results is not None else body.top_k
    ranking = body.ranking_options or shapes.Ranking()
    if ranking.ranker not in (*RERANKERS_ON, "none"):
        raise InvalidInput(f"ranking_options.ranker must be auto or none, not '{ranking.ranker}'.")
    hits = wb.search.files(
        me,
        store.name,
        queries,
        limit=10 if limit is None else limit,
        condition=conditions.parse(body.filters) if body.filters is not None else None,
        rerank=ranking.ranker != "none",
        threshold=ranking.score_threshold,
        rewrite=body.rewrite_query,
    )
    return {
        "object": "vector_store.search_results.page",
        "search_query": queries,
        "data": [shapes.search_result(store, h) for h in hits],
        "has_more": False,
        "next_page": None,
    }


@router.post("/{store_id}/upload", summary="Upload a file straight into a vector store and wait until it is in")
def upload(
    store_id: StoreId,
    me: Me,
    wb: Wb,
    file: Annotated[UploadFile, File(description="the file")],
    chunk_size: Annotated[int | None, Form()] = None,
    chunk_overlap: Annotated[int | None, Form()] = None,
    vision_model: Annotated[str | None, Form()] = None,
    vision_prompt: Annotated[str | None, Form()] = None,
    ocr: Annotated[str | None, Form(description="scanned pages: auto, always or never (default: the store's)")] = None,
) -> dict[str, Any]:
    store = _store(wb, me, store_id, Action.EDIT)
    chunking = None
    if chunk_size is not None or chunk_overlap is not None:
        base = store.chunking
        chunking = ChunkSettings(
            base.strategy,
            chunk_size if chunk_size is not None else base.size,
            chunk_overlap if chunk_overlap is not None else min(base.overlap, (chunk_size or base.size) - 1),
        )
    if ocr:
        check_ocr(ocr)  # before the file is kept: a refused upload leaves nothing behind
    data = read_upload(file, wb.settings.max_upload_bytes)
    stored = wb.files.upload(me, file.filename or "", data, purpose="assistants")
    wb.jobs.add(
        me, store.name, [Attach(stored.id, {}, chunking, vision_model or None, vision_prompt or None, ocr or None)]
    )
    wb.jobs.wait(me, store.name, stored.id)
    found = wb.jobs.file(me, store.name, stored.id)
    chunks = 0
    if found.document_id and found.status == "completed":
        chunks = next((d.chunk_count for d in wb.documents.of(me, store.name) if d.id == found.document_id), 0)
    return {**shapes.vector_store_file(store, found), "chunks": chunks}


@router.post("/{store_id}/rag", summary="Answer a question from a vector store, with checked citations")
def rag(store_id: StoreId, body: shapes.RagRequest, me: Me, wb: Wb) -> dict[str, Any]:
    store = _store(wb, me, store_id)
    search = wb.stores.search_defaults(me, store.name)
    if body.top_k is not None:
        search = replace(search, top_k=body.top_k)
    if body.rerank is False:
        search = replace(search, rerank=Reranker())
    stream, answer = wb.chat.ask(me, store.name, body.query, options=AskOptions(model=body.model or "", search=search))
    for _ in stream:
        pass
    grounding = answer.grounding
    return {
        "object": "vector_store.rag_answer",
        "query": body.query,
        "answer": answer.text,
        "model": answer.model,
        "refused": answer.refused,
        "status": answer.status.value,
        "error": answer.error,
        "withheld": [  # passages the store's injection check flagged (withheld: kept from the model)
            {"filename": w.filename, "page": w.page, "reason": w.reason, "withheld": w.withheld}
            for w in answer.withheld
        ],
        "safety": answer.safety or None,
        "citations": [
            {
                "n": c.n,
                "filename": c.filename,
                "page": c.page,
                "location": c.location,
                "snippet": c.snippet,
                "score": round(float(c.score), 6),
                "supported": c.supported,
            }
            for c in answer.citations
        ],
        "check": {
            "grounded": grounding.grounded if grounding else None,
            "summary": grounding.summary() if grounding else "",
            "unsupported": list(grounding.unsupported) if grounding else [],
        },
        "conversation_id": answer.conversation_id,
    }
