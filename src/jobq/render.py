"""A job as a JSON document: the native API's shape, also the body of callbacks."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from jobq.model import Attempt, Job, LogEntry, Worker

_texts: dict[float, str] = {}  # times formatted lately (a batch's jobs share most of theirs)
_seconds: dict[int, str] = {}  # whole seconds formatted lately
_KEEP = 4096  # entries each cache holds before it starts afresh
# the range ISO 8601 with four-digit years can show; times beyond it show as its ends
FIRST = datetime(1, 1, 1, tzinfo=UTC).timestamp()
LAST = datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC).timestamp()


def iso(t: float | None) -> str | None:
    """UNIX seconds as ISO 8601 UTC with milliseconds (2026-01-02T03:04:05.678Z).

    Total: whatever a store holds renders. A time past year 9999 (an infinity included) shows
    as the last millisecond of 9999, one before year 1 as the first of year 1; NaN and values
    that are not numbers show as None."""
    if t is None:
        return None
    if not isinstance(t, int | float) or math.isnan(t):
        return None
    t = min(max(t, FIRST), LAST)
    text = _texts.get(t)
    if text is None:
        text = _format(t)
        if len(_texts) >= _KEEP:
            _texts.clear()
        _texts[t] = text
    return text


def _format(t: float) -> str:
    second, ms = divmod(min(round(t * 1000), round(LAST * 1000)), 1000)
    head = _seconds.get(second)
    if head is None:  # a job's times fall in a few seconds: now, run_at, lease expiry, ...
        head = datetime.fromtimestamp(second, UTC).replace(tzinfo=None).isoformat()
        if len(_seconds) >= _KEEP:
            _seconds.clear()
        _seconds[second] = head
    return f"{head}.{ms:03d}Z"


def worker_document(worker: Worker | None) -> dict[str, Any] | None:
    if worker is None:
        return None
    return {"name": worker.name, "host": worker.host, "pid": worker.pid}


def job_document(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "seq": job.seq,
        "queue": job.queue,
        "type": job.type,
        "state": str(job.state),
        "cancel_requested": job.cancel_requested,
        "payload": job.payload,
        "metadata": job.metadata,
        "priority": job.priority,
        "run_at": iso(job.run_at),
        "lease_seconds": job.lease_seconds,
        "deadline_seconds": job.deadline_seconds,
        "max_attempts": job.max_attempts,
        "backoff_base": job.backoff_base,
        "backoff_max": job.backoff_max,
        "attempt": job.attempt,
        "result": job.result,
        "error": job.error,
        "exit_code": job.exit_code,
        "progress": job.progress,
        "result_ttl": job.result_ttl,
        "callback_url": job.callback_url,
        "owner": job.owner,
        "unique_key": job.unique_key,
        "concurrency_key": job.concurrency_key,
        "retry_of": job.retry_of,
        "retried_by": job.retried_by,
        "worker": worker_document(job.worker),
        "created_at": iso(job.created_at),
        "updated_at": iso(job.updated_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "last_heartbeat_at": iso(job.last_heartbeat_at),
        "lease_expires_at": iso(job.lease_expires_at),
        "deadline_at": iso(job.deadline_at),
        "cancel_reason": job.cancel_reason,
    }


def attempt_document(attempt: Attempt) -> dict[str, Any]:
    return {
        "attempt": attempt.attempt,
        "started_at": iso(attempt.started_at),
        "finished_at": iso(attempt.finished_at),
        "worker": worker_document(attempt.worker),
        "outcome": attempt.outcome,
        "error": attempt.error,
    }


def log_document(entry: LogEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "time": iso(entry.time),
        "stream": entry.stream,
        "text": entry.text,
        "attempt": entry.attempt,
    }
