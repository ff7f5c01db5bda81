"""How an attempt ended, as the worker will report it."""

from __future__ import annotations

import math
import traceback
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

MAX_SNOOZE_SECONDS = 365 * 86400.0  # the server's bound (jobq.engine.rules), a year


@dataclass(slots=True)
class Outcome:
    """A result, or an error (code, message, details) when `error` is set, or a snooze of
    `snooze` seconds when that is set."""

    result: Any = None
    error: dict[str, Any] | None = None
    retryable: bool = True
    exit_code: int | None = None
    snooze: float | None = None

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

        An exception with `retryable = False` (see `jobq.worker.Fail`) is not retried; a
        `Snooze` is no failure: the job runs again after its seconds."""
        if isinstance(exc, Snooze):
            return cls(snooze=exc.seconds)
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


class Snooze(Exception):
    """Raise (or return) from a task to hand the job back to run `seconds` from now without
    using an attempt: a third party answered "retry after 30 s" (HTTP 429), say. Seconds are
    a number or a timedelta, from 0 (queued again at once) to a year; anything else is a
    ValueError where the Snooze is made.

    A task that always snoozes runs forever: the attempts it does not use cannot stop it (a
    job's deadline can)."""

    def __init__(self, seconds: float | timedelta) -> None:
        value = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds)
        if not (math.isfinite(value) and 0.0 <= value <= MAX_SNOOZE_SECONDS):
            raise ValueError(
                f"a snooze is from 0 to {MAX_SNOOZE_SECONDS:.0f} seconds (a year), not {seconds}"
            )
        super().__init__(f"snooze for {value:g}s")
        self.seconds = value
