"""The HTTP API beside the UI (``rag serve``): ``POST /api/answer``, ``POST /api/retrieve``,
``GET /api/documents``, the OpenAPI document at ``/api/openapi.json`` and a page describing it at
``/api/docs`` (self-contained: the server is offline, so no Swagger UI from a CDN).

Mounted as an ASGI middleware inside the Gradio app (:class:`ApiMount`, after
:class:`ui.security.Guard`), so every request passes the same Host/Origin check and body limits
as the UI, and needs the same login: the UI's session cookie from ``POST /login`` (checked against
Gradio's own session table). Typed errors (:mod:`rag.errors`) become JSON bodies
``{"error": {"type": ..., "message": ...}}`` with a status code: 400 bad input, 401 not logged in,
503 no usable index or model, 500 anything else.
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from rag import errors

PREFIX = "/api"
UI_APP = "rag.ui_app"
"""Scope key holding the Gradio app a request came through (its login sessions)."""
MAX_HISTORY = 100
ANSWER_CONCURRENCY = 4
"""As the UI's: answers are CPU-bound, more at once would only contend for the cores."""
REFUSED_OPTIONS = {"store"}
"""Options a client may not set: where the index's data lives is the operator's choice."""
UNAVAILABLE = (
    errors.IndexNotFoundError,
    errors.IndexMismatchError,
    errors.IndexCorruptError,
    errors.ModelError,
    errors.StoreError,
)


class ApiError(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind = status, kind


class AnswerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(description="the question", examples=["Who did Kim Jong Un meet in Russia?"])
    history: list[Any] = Field(
        default_factory=list,
        max_length=MAX_HISTORY,
        description='earlier turns, oldest first: questions (strings) or chat messages {"role": "user", "content": ...}',
    )
    options: dict[str, Any] = Field(default_factory=dict, description='rag.settings.AnswerOptions, e.g. {"mode": "bm25"}')


class RetrieveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(description="the question")
    k: int = Field(default=10, ge=1, le=1000, description="how many chunks")
    options: dict[str, Any] = Field(default_factory=dict, description="rag.settings.AnswerOptions")


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def status_of(err: errors.RagError) -> int:
    """400 for bad input, 503 when the index or model cannot be used, else 500."""
    if isinstance(err, errors.InputError):
        return 400
    return 503 if isinstance(err, UNAVAILABLE) else 500


def error_response(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": one_line(message)}}, status_code=status)


def require_login(request: Request) -> None:
    """The UI's login: none on a loopback bind without credentials, else a session cookie from ``/login``."""
    ui = request.scope.get(UI_APP)
    if ui is None:
        raise ApiError(401, "NotAuthenticated", "not logged in")
    if getattr(ui, "auth", None) is None and getattr(ui, "auth_dependency", None) is None:
        return
    cookie = getattr(ui, "cookie_id", "")
    token = request.cookies.get(f"access-token-{cookie}") or request.cookies.get(f"access-token-unsecure-{cookie}")
    if token is None or getattr(ui, "tokens", {}).get(token) is None:
        raise ApiError(401, "NotAuthenticated", "not logged in: POST /login with username and password first (see README)")


def _options(options: dict[str, Any]) -> dict[str, Any]:
    refused = sorted(REFUSED_OPTIONS & set(options))
    if refused:
        raise errors.ConfigError(f"option {refused[0]} cannot be set over the API")
    return options


def create_api(index_dir: str | Path) -> FastAPI:
    """The API app over the index at ``index_dir`` (routes at their full paths, under :data:`PREFIX`)."""
    index = str(index_dir)
    limiter = anyio.CapacityLimiter(ANSWER_CONCURRENCY)
    api = FastAPI(
        title="rag-cited API",
        version="1",
        description="Answers made of cited source sentences from the indexed documents.",
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(require_login)],
    )

    async def run(fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs), limiter=limiter)

    @api.post(f"{PREFIX}/answer", summary="Answer a question with cited sentences (as `rag ask --json`)")
    async def answer_route(body: AnswerRequest) -> dict[str, Any]:
        from rag.answering.answer import answer

        result = await run(answer, body.question, index_dir=index, history=body.history, **_options(body.options))
        return result.to_dict()

    @api.post(f"{PREFIX}/retrieve", summary="The best chunks for a question, best first")
    async def retrieve_route(body: RetrieveRequest) -> dict[str, Any]:
        from rag.answering.retrieve import retrieve

        hits = await run(retrieve, body.question, k=body.k, index_dir=index, **_options(body.options))
        return {"question": body.question, "hits": [asdict(h) for h in hits]}

    @api.get(f"{PREFIX}/documents", summary="The indexed documents (as `rag list --json`)")
    async def documents_route() -> list[dict[str, Any]]:
        from rag.indexing.manage import list_documents

        return list(await run(list_documents, index))

    @api.get(f"{PREFIX}/docs", response_class=HTMLResponse, include_in_schema=False)
    async def docs_route() -> HTMLResponse:
        return HTMLResponse(docs_page(api.openapi()))

    _handlers(api)
    return api


def _handlers(api: FastAPI) -> None:
    """Every failure as a JSON error body with its status code."""

    async def api_error(request: Request, err: Exception) -> JSONResponse:
        assert isinstance(err, ApiError)
        return error_response(err.status, err.kind, str(err))

    async def rag_error(request: Request, err: Exception) -> JSONResponse:
        assert isinstance(err, errors.RagError)
        return error_response(status_of(err), type(err).__name__, str(err))

    async def invalid(request: Request, err: Exception) -> JSONResponse:
        assert isinstance(err, RequestValidationError)
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        return error_response(400, "InputError", f"{where}: {first.get('msg', 'invalid request')}")

    async def http_error(request: Request, err: Exception) -> JSONResponse:
        assert isinstance(err, HTTPException)
        return error_response(err.status_code, "HTTPError", str(err.detail))

    async def internal(request: Request, err: Exception) -> JSONResponse:
        return error_response(500, "InternalError", "internal error: see the server's log")

    api.add_exception_handler(ApiError, api_error)
    api.add_exception_handler(errors.RagError, rag_error)
    api.add_exception_handler(RequestValidationError, invalid)
    api.add_exception_handler(HTTPException, http_error)
    api.add_exception_handler(Exception, internal)


def docs_page(spec: dict[str, Any]) -> str:
    """A self-contained HTML page of the OpenAPI document: each route, its summary and schemas."""
    rows = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            rows.append(f"<h2><code>{method.upper()} {html.escape(path)}</code></h2><p>{html.escape(op.get('summary', ''))}</p>")
    schemas = html.escape(json.dumps(spec.get("components", {}).get("schemas", {}), indent=2))
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(spec['info']['title'])}</title></head>"
        f"<body style='font-family: system-ui, sans-serif; max-width: 60em; margin: auto'>"
        f"<h1>{html.escape(spec['info']['title'])}</h1><p>{html.escape(spec['info'].get('description', ''))} "
        f"Machine-readable: <a href='{PREFIX}/openapi.json'>{PREFIX}/openapi.json</a>.</p>"
        f"{''.join(rows)}<h2>Schemas</h2><pre>{schemas}</pre></body></html>"
    )


class ApiMount:
    """ASGI middleware: requests under ``/api`` go to the API app, everything else to Gradio."""

    def __init__(self, app: ASGIApp, index_dir: str | Path) -> None:
        self.app, self.api = app, create_api(index_dir)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.api({**scope, UI_APP: scope.get("app")}, receive, send)
        else:
            await self.app(scope, receive, send)
