"""Errors over HTTP: status codes, and each interface's own error shape.

Every mounted interface registers a renderer for its path prefix; the app-wide handlers pick
the renderer of the longest prefix that matches the request, so a dialect answers bad input,
unknown jobs and conflicts in its own seed's shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from jobq.api.http.responses import JSONResponse
from jobq.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    JobqError,
    NotFound,
    RateLimited,
    StoreUnavailable,
    Unauthorized,
)


@dataclass(slots=True)
class HttpError:
    """An error ready to render: status, code, message, details."""

    status: int
    code: str
    message: str
    details: dict[str, Any]


Renderer = Callable[[Request, HttpError], Response]

STATUS: list[tuple[type[JobqError], int]] = [
    (NotFound, 404),
    (Conflict, 409),
    (InvalidInput, 422),
    (Unauthorized, 401),
    (Forbidden, 403),
    (RateLimited, 429),
    (StoreUnavailable, 503),
]


def status_of(exc: JobqError) -> int:
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return 400


def native_error(request: Request, err: HttpError) -> Response:
    body = {"error": {"code": err.code, "message": err.message, "details": err.details}}
    headers = {"Retry-After": "1"} if err.status == 503 else None
    return JSONResponse(body, status_code=err.status, headers=headers)


class ErrorShapes:
    """Which renderer answers for which path prefix."""

    def __init__(self, default: Renderer = native_error) -> None:
        self.default = default
        self._by_prefix: list[tuple[str, Renderer]] = []

    def register(self, prefix: str, renderer: Renderer) -> None:
        self._by_prefix.append((prefix.rstrip("/"), renderer))
        self._by_prefix.sort(key=lambda pr: -len(pr[0]))

    def render(self, request: Request, err: HttpError) -> Response:
        path = request.url.path
        for prefix, renderer in self._by_prefix:
            if path == prefix or path.startswith(prefix + "/"):
                return renderer(request, err)
        return self.default(request, err)


def install(app: FastAPI, shapes: ErrorShapes) -> None:
    """Route every error through `shapes`."""

    async def on_jobq_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, JobqError)
        err = HttpError(status_of(exc), exc.code, exc.message, exc.details)
        response = shapes.render(request, err)
        response.headers.update(exc.headers or {})
        return response

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return shapes.render(request, validation_error(exc))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status_code, "http_error"
        )
        err = HttpError(exc.status_code, code, str(exc.detail), {})
        response = shapes.render(request, err)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    app.add_exception_handler(JobqError, on_jobq_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)


def validation_error(exc: RequestValidationError) -> HttpError:
    """400 for a body that is not JSON at all, 422 naming each bad field otherwise."""
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return HttpError(400, "malformed_json", "the request body is not valid JSON", {})
    fields = [
        {
            "field": _field_name(e.get("loc", ())),
            "message": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in errors
    ]
    names = ", ".join(f["field"] or "body" for f in fields)
    return HttpError(422, "invalid", f"invalid request: {names}", {"fields": fields})


def _field_name(loc: Any) -> str:
    """The dotted path of a bad field, without "body" and without union tags (ClassNames)."""
    parts = [str(p) for p in loc if p != "body" and not (isinstance(p, str) and p[:1].isupper())]
    return ".".join(parts)
