"""Errors the jobq client raises, mapped from the server's native error shape.

    ClientError
    ├── TransportError       the server could not be reached, or the connection broke
    └── ServerError          the server answered with an error document
        ├── InvalidRequest       400 / 422: the request is not acceptable
        ├── Unauthorized         401: no valid credentials
        ├── Forbidden            403: valid credentials, not allowed
        ├── NotFound             404: the job (or route) does not exist
        ├── Conflict             409: the job's state forbids the operation now
        │   └── StaleLease       409 stale_lease: the lease token is no longer the job's
        ├── PayloadTooLarge      413: the request body is over the server's limit
        └── ServerUnavailable    503 (or 5xx): the store is unavailable; try again shortly

A server error carries `status`, `code`, `message` and `details` exactly as the server sent
them (`{"error": {"code", "message", "details"}}`).
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterator
from typing import Any


class ClientError(Exception):
    """The jobq client could not do what was asked."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__doc__ or "").strip()
        super().__init__(self.message)


class TransportError(ClientError):
    """The jobq server could not be reached."""

    def __init__(self, message: str | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason  # why, in a few words ("connection refused")


def reason_of(exc: BaseException) -> str:
    """Why a request got no answer, in a few words: from the first cause in the chain of
    `exc` that says (a refused connection, a host name that does not resolve, a timeout)."""
    for cause in _causes(exc):
        name = type(cause).__name__
        if isinstance(cause, TimeoutError) or "Timeout" in name:
            return "no answer in time"
        if isinstance(cause, socket.gaierror):
            return "cannot resolve the host name"
        if "Disconnected" in name or "RemoteProtocolError" in name:
            return "the server closed the connection"
        if isinstance(cause, OSError) and cause.errno and cause.errno in errno.errorcode:
            return os.strerror(cause.errno).lower()
    return str(exc) or type(exc).__name__


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, the OS error it wraps (aiohttp's `os_error`), and so on down its causes."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        wrapped = getattr(current, "os_error", None)
        if isinstance(wrapped, BaseException):
            yield wrapped
        yield current
        current = current.__cause__ or current.__context__


class ServerError(ClientError):
    """The jobq server refused the request."""

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int = 0,
        code: str = "error",
        details: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.details = details if details is not None else {}

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


class InvalidRequest(ServerError):
    """The request is not acceptable."""


class Unauthorized(ServerError):
    """Authentication required."""


class Forbidden(ServerError):
    """Not allowed."""


class NotFound(ServerError):
    """Not found."""


class Conflict(ServerError):
    """The operation is not allowed in the job's current state."""


class StaleLease(Conflict):
    """The lease token is not the job's current lease: the job was handed to someone else."""


class PayloadTooLarge(ServerError):
    """The request body is over the server's limit."""


class ServerUnavailable(ServerError):
    """The jobq server is unavailable; try again shortly."""


BY_CODE: dict[str, type[ServerError]] = {"stale_lease": StaleLease}
BY_STATUS: dict[int, type[ServerError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: InvalidRequest,
    503: ServerUnavailable,
}


def error_for(status: int, body: Any, text: str = "") -> ServerError:
    """The exception for an error response: by the error code first, then by the status."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {"code": "http_error", "message": text[:500] or f"HTTP {status}"}
    code = str(error.get("code") or "error")
    kind = BY_CODE.get(code) or BY_STATUS.get(status)
    if kind is None:
        kind = ServerUnavailable if status >= 500 else ServerError
    message = str(error.get("message") or "")
    return kind(message or None, status=status, code=code, details=error.get("details"))
