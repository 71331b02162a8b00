"""The FastAPI application: who is acting (an API key), errors in OpenAI's shape, and a usage record per call."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from mcp.server.transport_security import TransportSecuritySettings
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import mcp, routes_files, routes_stores
from core.errors import (
    AlreadyExists,
    BackendUnavailable,
    EmbeddingMismatch,
    InvalidInput,
    ModelError,
    NotFound,
    NotSignedIn,
    ParseError,
    PermissionDenied,
    RateLimited,
    TooLarge,
    UnsupportedFileType,
    WorkbenchError,
)
from core.records import Actor
from core.redact import redact
from core.workbench import Workbench

log = logging.getLogger(__name__)

# (error class, HTTP status, OpenAI error type, code), most specific first
STATUSES: tuple[tuple[type[WorkbenchError], int, str, str], ...] = (
    (NotSignedIn, 401, "invalid_request_error", "invalid_api_key"),
    (RateLimited, 429, "rate_limit_error", "rate_limit_exceeded"),
    (TooLarge, 413, "invalid_request_error", "file_too_large"),
    (NotFound, 404, "invalid_request_error", "not_found"),
    (PermissionDenied, 403, "permission_error", "permission_denied"),
    (AlreadyExists, 409, "invalid_request_error", "conflict"),
    (UnsupportedFileType, 400, "invalid_request_error", "unsupported_file"),
    (ParseError, 400, "invalid_request_error", "invalid_file"),
    (EmbeddingMismatch, 400, "invalid_request_error", "invalid_value"),
    (InvalidInput, 400, "invalid_request_error", "invalid_value"),
    (BackendUnavailable, 503, "server_error", "backend_unavailable"),
    (ModelError, 502, "server_error", "model_error"),
    (WorkbenchError, 400, "invalid_request_error", "invalid_request"),
)


def error_response(
    status: int, message: str, *, kind: str, code: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """OpenAI's error body; a request that cannot succeed as sent is marked so that clients do not repeat it."""
    retry = status == 429 or status >= 502
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": None, "code": code}},
        status_code=status,
        headers={**(headers or {}), "x-should-retry": "true" if retry else "false"},
    )


def create_app(workbench: Workbench | None = None, *, run_jobs: bool = True) -> FastAPI:
    """The API over one workbench; `run_jobs` starts this process's background worker."""
    wb = workbench or Workbench()
    agents = mcp.build(wb)
    mcp_app = agents.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=True,  # no session held by one replica: any replica behind a balancer answers any call
        json_response=True,
        # every call needs an API key in a header, which a page rebinding its DNS to us cannot send: Host names are
        # not checked, so that a balancer's or a proxy's name reaches it too
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if run_jobs:
            wb.start_jobs()
        # the stores' models load now, beside the first requests: the first search does not wait for them
        threading.Thread(target=wb.warm_up, name="warm-up", daemon=True).start()
        async with agents.session_manager.run():  # the MCP endpoint's task group
            yield
        if run_jobs:
            await run_in_threadpool(wb.stop_jobs)

    app = FastAPIOffline(  # FastAPI, with its docs pages' scripts served by the API instead of a CDN
        lifespan=lifespan,
        title="RAG Workbench API",
        version="1",
        description="OpenAI-compatible vector stores, files and search over the workbench's stores, with per-user "
        "API keys (make one on the Account page or with `python -m core key create`).",
    )
    app.state.wb = wb

    @app.exception_handler(WorkbenchError)
    async def _workbench_error(request: Request, exc: WorkbenchError) -> JSONResponse:
        status, kind, code = next((s, k, c) for cls, s, k, c in STATUSES if isinstance(exc, cls))
        headers = {"retry-after": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        request.state.error = str(exc)
        return error_response(status, str(exc), kind=kind, code=code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            message = "The request body is not valid JSON."
            request.state.error = message
            return error_response(400, message, kind="invalid_request_error", code="invalid_json")
        first = errors[0] if errors else {}
        if tuple(first.get("loc", ())) == ("body",):  # a body that is not a JSON object (curl -d sends a form)
            message = "Send the body as a JSON object, with the header 'Content-Type: application/json'."
            request.state.error = message
            return error_response(400, message, kind="invalid_request_error", code="invalid_json")
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"{where or 'The request'}: {first.get('msg', 'is not valid')}."
        request.state.error = message
        return error_response(422, message, kind="invalid_request_error", code="invalid_value")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = {404: "There is no such endpoint.", 405: "This endpoint does not take that method."}.get(
            exc.status_code, str(exc.detail)
        )
        return error_response(exc.status_code, message, kind="invalid_request_error", code=f"http_{exc.status_code}")

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("API request %s %s failed", request.method, request.url.path)
        message = f"The server failed to answer ({type(exc).__name__}: {redact(str(exc))[:200]}). It was logged."
        request.state.error = message
        return error_response(500, message, kind="server_error", code="server_error")

    @app.middleware("http")
    async def _record(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        actor: Actor | None = getattr(request.state, "actor", None)
        if actor is not None:
            route = request.scope.get("route")
            name = f"{request.method} {getattr(route, 'path', request.url.path)}"
            ms = (time.perf_counter() - started) * 1000
            error = getattr(request.state, "error", None)
            try:
                await run_in_threadpool(
                    wb.usage.call, actor, name, latency_ms=ms, status=response.status_code, error=error
                )
            except Exception:  # the answer stands without its usage record
                log.warning("could not record API usage", exc_info=True)
        return response

    @app.get("/health", summary="Whether this server can serve (its catalog answers): for load balancers")
    def health() -> dict[str, str]:
        return wb.health()

    app.include_router(routes_stores.router)
    app.include_router(routes_files.router)
    app.router.routes.extend(mcp_app.routes)  # POST /mcp: the stores as MCP tools for agents (api/mcp.py)
    return app
