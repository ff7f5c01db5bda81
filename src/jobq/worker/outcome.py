"""How an attempt ended, as the worker will report it."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Outcome:
    """A result, or an error (code, message, details) when `error` is set."""

    result: Any = None
    error: dict[str, Any] | None = None
    retryable: bool = True
    exit_code: int | None = None

    @classmethod
    def failure(
        cls,
        code: str,
        message: str,
        details: Any = None,
        *,
        retryable: bool = True,
        exit_code: int | None = None,
    ) -> Outcome:
        error = {"code": code, "message": message, "details": details}
        return cls(error=error, retryable=retryable, exit_code=exit_code)

    @classmethod
    def from_exception(cls, exc: BaseException) -> Outcome:
        """A task raised: the exception's type and message, and the traceback in details.

        An exception with `retryable = False` (see `jobq.worker.Fail`) is not retried."""
        kind = type(exc)
        details = {
            "type": f"{kind.__module__}.{kind.__qualname__}",
            "traceback": "".join(traceback.format_exception(exc)),
        }
        code = getattr(exc, "code", None) or "exception"
        retryable = bool(getattr(exc, "retryable", True))
        return cls.failure(str(code), f"{kind.__name__}: {exc}", details, retryable=retryable)


class Fail(Exception):
    """Raise from a task to fail the attempt with a chosen code, and optionally no retry."""

    def __init__(self, message: str, *, code: str = "failed", retryable: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable
