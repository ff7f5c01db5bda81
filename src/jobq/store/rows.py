"""Jobs to rows and back, shared by the stores (JSON columns as text).

Columns are listed in the order of the `Job` dataclass fields, so a row decodes into a job
positionally; this is the hot path of every claim and acknowledgement.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from operator import attrgetter
from typing import Any

import orjson

from jobq.model import (
    Attempt,
    HeldJob,
    Job,
    QueueLimits,
    QueueSettings,
    QueueStats,
    Worker,
    WorkerSeen,
)
from jobq.states import TERMINAL, State

JOB_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Job))
INSERT_COLUMNS = tuple(c for c in JOB_COLUMNS if c != "seq")
JSON_COLUMNS = frozenset({"payload", "metadata", "result", "error", "progress", "cancel_reason"})
_JSON_AT = tuple(i for i, c in enumerate(JOB_COLUMNS) if c in JSON_COLUMNS)
_INSERT_JSON_AT = tuple(i for i, c in enumerate(INSERT_COLUMNS) if c in JSON_COLUMNS)
_STATE_AT = JOB_COLUMNS.index("state")
_WORKER_AT = JOB_COLUMNS.index("worker")
_CANCEL_AT = JOB_COLUMNS.index("cancel_requested")
_METADATA_AT = JOB_COLUMNS.index("metadata")
_INSERT_STATE_AT = INSERT_COLUMNS.index("state")
_INSERT_WORKER_AT = INSERT_COLUMNS.index("worker")
_INSERT_CANCEL_AT = INSERT_COLUMNS.index("cancel_requested")
_INSERT_METADATA_AT = INSERT_COLUMNS.index("metadata")
_insert_getter = attrgetter(*INSERT_COLUMNS)
# What transitions set: a new job holds their column defaults (NULL, 0), so its INSERT need not
# bind them (a third fewer values per row, the bulk of a batched enqueue's writing).
LATER_COLUMNS = (
    "attempt",
    "result",
    "error",
    "exit_code",
    "progress",
    "started_at",
    "finished_at",
    "last_heartbeat_at",
    "lease_token",
    "lease_expires_at",
    "deadline_at",
    "worker",
    "cancel_requested",
    "cancel_reason",
    "retried_by",
    "purge_at",
)
NEW_COLUMNS = tuple(c for c in INSERT_COLUMNS if c not in LATER_COLUMNS)
_later_getter = attrgetter(*LATER_COLUMNS)
_new_getter = attrgetter(*NEW_COLUMNS)
_NEW_JSON_AT = tuple(i for i, c in enumerate(NEW_COLUMNS) if c in JSON_COLUMNS)
_NEW_STATE_AT = NEW_COLUMNS.index("state")
_loads = orjson.loads
_STATES = {str(s): s for s in State}


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
    out = {"name": worker.name, "host": worker.host, "pid": worker.pid}
    return out if worker.user is None else {**out, "user": worker.user}


def worker_values(worker: Worker, queues: Sequence[str] | None, now: float) -> list[Any]:
    """A `workers` row: name, host, pid, queues (JSON; null: every queue), last seen, slots."""
    names = None if queues is None else list(queues)
    return [worker.name, worker.host or "", worker.pid or 0, dumps(names), now, worker.slots]


def worker_queues(raw: str) -> list[str] | None:
    """The queues of a `workers` row (None: every queue)."""
    value = _loads(raw)
    if value is None:
        return None
    return [str(v) for v in value] if isinstance(value, list) else []


def decode_worker(raw: str | bytes | None) -> Worker | None:
    if raw is None:
        return None
    data = _loads(raw)
    return Worker(data.get("name", ""), data.get("host"), data.get("pid"), data.get("user"))


def job_values(job: Job) -> list[Any]:
    """The INSERT_COLUMNS values of a new job."""
    values = list(_insert_getter(job))
    for i in _INSERT_JSON_AT:
        v = values[i]
        if v is not None or i == _INSERT_METADATA_AT:
            values[i] = orjson.dumps(v).decode()
    values[_INSERT_STATE_AT] = str(values[_INSERT_STATE_AT])
    worker = values[_INSERT_WORKER_AT]
    values[_INSERT_WORKER_AT] = None if worker is None else dumps(worker_dict(worker))
    values[_INSERT_CANCEL_AT] = int(bool(values[_INSERT_CANCEL_AT]))
    return values


def is_new(job: Job) -> bool:
    """Whether `job` holds the defaults of every LATER_COLUMNS field, as a job just built does."""
    return _later_getter(job) == _LATER_DEFAULTS


def new_job_values(job: Job) -> list[Any]:
    """The NEW_COLUMNS values of a job for which `is_new` holds."""
    values = list(_new_getter(job))
    for i in _NEW_JSON_AT:
        values[i] = orjson.dumps(values[i]).decode()
    values[_NEW_STATE_AT] = str(values[_NEW_STATE_AT])
    return values


def job_from_row(row: Iterable[Any]) -> Job:
    """A job from a row in JOB_COLUMNS order (a tuple from SQLite, a Record from asyncpg).

    Total: a row whose JSON columns do not decode (written by hand, say) still gives a job,
    so that one row never makes a listing or a background duty fail (`_lenient_job`)."""
    try:
        return _strict_job(list(row))
    except Exception:
        return _lenient_job(list(row))


def _strict_job(values: list[Any]) -> Job:
    for i in _JSON_AT:
        raw = values[i]
        if isinstance(raw, str | bytes):
            values[i] = _loads(raw)
    if values[_METADATA_AT] is None:
        values[_METADATA_AT] = {}
    elif type(values[_METADATA_AT]) is not dict:
        raise ValueError("metadata is not an object")
    values[_WORKER_AT] = decode_worker(values[_WORKER_AT])
    values[_STATE_AT] = _STATES[values[_STATE_AT]]
    values[_CANCEL_AT] = bool(values[_CANCEL_AT])
    return Job(*values)


def _lenient_job(values: list[Any]) -> Job:
    """A job from a row that does not decode: a JSON column that is not JSON shows as its
    text, metadata that is not an object of strings as {}, a worker that is not one as None."""
    for i in _JSON_AT:
        values[i] = _json_or_text(values[i])
    metadata = values[_METADATA_AT]
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        values[_METADATA_AT] = {}
    try:
        values[_WORKER_AT] = decode_worker(values[_WORKER_AT])
    except Exception:
        values[_WORKER_AT] = None
    values[_STATE_AT] = _STATES.get(values[_STATE_AT], State.failed)
    values[_CANCEL_AT] = bool(values[_CANCEL_AT])
    return Job(*values)


def _json_or_text(raw: Any) -> Any:
    if not isinstance(raw, str | bytes):
        return raw
    try:
        return _loads(raw)
    except orjson.JSONDecodeError:
        return raw if isinstance(raw, str) else raw.decode(errors="replace")


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


_LATER_DEFAULTS = _later_getter(Job(id="", queue=""))


def queue_stats(
    pauses: Iterable[Sequence[Any]],
    counts: Iterable[Sequence[Any]],
    oldest: Iterable[Sequence[Any]],
    retried: Iterable[Sequence[Any]] = (),
) -> list[QueueStats]:
    """Each queue's statistics, by name, from the rows of `queue_pauses` (name, paused),
    `state_counts` (queue, state, count), each store's oldest-queued query (name, when) and
    `retried_counts` (queue, state, count of the finished jobs that were retried)."""
    stats: dict[str, QueueStats] = {}

    def entry(name: str) -> QueueStats:
        found = stats.get(name)
        if found is None:
            found = stats[name] = QueueStats(name, {str(s): 0 for s in State}, None, False)
            found.retried = {str(s): 0 for s in TERMINAL}
        return found

    for name, paused in pauses:
        entry(name).paused = bool(paused)
    for queue, state, count in counts:
        entry(queue).counts[state] = count
    for name, when in oldest:
        stats[name].oldest_queued_at = when
    for queue, state, count in retried:
        if state in entry(queue).retried:
            stats[queue].retried[state] = count
    return sorted(stats.values(), key=lambda s: s.name)


WorkerKey = tuple[str, str, int]  # a worker's name, host or "", pid or 0


def workers_seen(
    rows: Iterable[Sequence[Any]], held: dict[WorkerKey, list[HeldJob]]
) -> list[WorkerSeen]:
    """Workers from the rows of `workers` (name, host, pid, queues as JSON: null for every
    queue, last seen, slots), each with the running jobs it holds (`held`, by WorkerKey)."""
    seen = []
    for name, host, pid, queues, last_seen, slots in rows:
        jobs = held.get((name, host, pid), [])
        asked = worker_queues(queues)
        seen.append(
            WorkerSeen(name, host or None, pid or None, asked, last_seen, len(jobs), slots, jobs)
        )
    return seen


def held_by(rows: Iterable[Sequence[Any]]) -> dict[WorkerKey, list[HeldJob]]:
    """Running jobs by the worker holding them, from rows of (worker JSON, id, queue, type)."""
    held: dict[WorkerKey, list[HeldJob]] = {}
    for raw, job_id, queue, kind in rows:
        w = decode_worker(raw)
        if w is not None:
            key = (w.name, w.host or "", w.pid or 0)
            held.setdefault(key, []).append(HeldJob(job_id, queue, kind))
    return held


def queue_settings(rows: Iterable[Sequence[Any]]) -> dict[str, QueueSettings]:
    """Queue settings by name, from rows of (name, operator_paused, concurrency, rate,
    rate_period, per_key, aging, key_weights)."""
    return {row[0]: QueueSettings(bool(row[1]), queue_limits(row[2:])) for row in rows}


def queue_limits(values: Sequence[Any]) -> QueueLimits:
    """A queue's limits from its columns (concurrency, rate, rate_period, per_key, aging,
    key_weights)."""
    concurrency, rate, period, per_key, aging, weights = values
    return QueueLimits(concurrency, rate, period, per_key, aging, _weights(weights))


def _weights(text: str | None) -> tuple[tuple[str, int], ...]:
    """Key weights from their JSON object; none from anything else."""
    try:
        found = _loads(text) if text else {}
    except ValueError:
        return ()
    if not isinstance(found, dict):
        return ()
    return tuple(sorted((k, w) for k, w in found.items() if type(w) is int and w >= 1))
