"""Jobs to rows and back, shared by the stores (JSON columns as text)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from jobq.model import Attempt, Job, Worker
from jobq.states import State

JOB_COLUMNS: tuple[str, ...] = (
    "seq", "id", "queue", "type", "payload", "metadata", "priority", "state", "run_at",
    "lease_seconds", "deadline_seconds", "max_attempts", "backoff_base", "backoff_max",
    "attempt", "result", "error", "exit_code", "progress", "result_ttl", "callback_url",
    "owner", "created_at", "updated_at", "started_at", "finished_at", "last_heartbeat_at",
    "lease_token", "lease_expires_at", "deadline_at", "worker", "cancel_requested",
    "cancel_reason", "retry_of", "retried_by", "unique_key", "purge_at",
)  # fmt: skip
INSERT_COLUMNS = JOB_COLUMNS[1:]
JSON_COLUMNS = frozenset({"payload", "metadata", "result", "error", "progress", "cancel_reason"})


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def encode(column: str, value: Any) -> Any:
    """A job field as stored in `column`."""
    if column in JSON_COLUMNS:
        return None if value is None and column != "metadata" else dumps(value)
    if column == "worker":
        return None if value is None else dumps(worker_dict(value))
    if column == "state":
        return str(value)
    if column == "cancel_requested":
        return int(bool(value))
    return value


def worker_dict(worker: Worker) -> dict[str, Any]:
    return {"name": worker.name, "host": worker.host, "pid": worker.pid}


def decode_worker(raw: str | None) -> Worker | None:
    if raw is None:
        return None
    data = orjson.loads(raw)
    return Worker(name=data.get("name", ""), host=data.get("host"), pid=data.get("pid"))


def job_values(job: Job) -> tuple[Any, ...]:
    """The INSERT_COLUMNS values of a new job."""
    return tuple(encode(c, getattr(job, c)) for c in INSERT_COLUMNS)


def job_from_row(row: Sequence[Any] | Mapping[str, Any]) -> Job:
    """A job from a row in JOB_COLUMNS order (or a mapping by column name)."""
    if isinstance(row, Mapping):
        values = {c: row[c] for c in JOB_COLUMNS}
    else:
        values = dict(zip(JOB_COLUMNS, row, strict=True))
    for column in JSON_COLUMNS:
        raw = values[column]
        values[column] = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
    if values["metadata"] is None:
        values["metadata"] = {}
    values["worker"] = decode_worker(values["worker"])
    values["state"] = State(values["state"])
    values["cancel_requested"] = bool(values["cancel_requested"])
    return Job(**values)


def attempt_from_row(row: Sequence[Any]) -> Attempt:
    job_id, attempt, started_at, finished_at, worker, outcome, error = row
    return Attempt(
        job_id=job_id,
        attempt=attempt,
        started_at=started_at,
        finished_at=finished_at,
        worker=decode_worker(worker),
        outcome=outcome,
        error=orjson.loads(error) if error else None,
    )
