"""Every native API call as a value: what to send and how to read the answer.

`Client` and `AsyncClient` differ only in how they send a `Call`, so each route is described
once, here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import orjson

from jobq.client.types import (
    AckItem,
    AckResult,
    Attempt,
    ClaimedJob,
    Deletion,
    Heartbeat,
    Job,
    JobPage,
    LogEntry,
    LogPage,
    Problem,
    Queue,
    QueueLimits,
    QueueLimitsInfo,
    Receipt,
    WorkerInfo,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer as the calls read it, whichever HTTP library fetched it."""

    status_code: int
    content: bytes

    def json(self) -> Any:
        return orjson.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    method: str
    path: str
    read: Callable[[Reply], T]
    params: Any = None
    json: Any = None
    wait: float = 0.0  # seconds the server may hold the request (added to the timeout)
    headers: dict[str, str] | None = None


@dataclass(slots=True)
class NewJob:
    """A job to enqueue; None means the server's default."""

    queue: str = "default"
    type: str = "default"
    payload: Any = None
    metadata: dict[str, str] = field(default_factory=dict)
    priority: int = 0
    run_at: datetime | None = None
    delay: float | None = None
    lease_seconds: float | None = None
    deadline_seconds: float | None = None
    max_attempts: int | None = None
    backoff_base: float | None = None
    backoff_max: float | None = None
    result_ttl: float | None = None
    keep_forever: bool = False
    callback_url: str | None = None
    unique_key: str | None = None
    concurrency_key: str | None = None

    def document(self) -> dict[str, Any]:
        doc = {k: v for k, v in asdict(self).items() if v is not None or k == "payload"}
        if self.run_at is not None:
            doc["run_at"] = self.run_at.isoformat()
        return doc


@dataclass(frozen=True, slots=True)
class WorkerId:
    """How a worker names itself when it claims."""

    name: str
    host: str | None = None
    pid: int | None = None
    slots: int | None = None  # how many jobs it runs at once (the dashboard's "3/8")


def _seg(value: str) -> str:
    """One path segment, escaped."""
    return quote(value, safe="")


# --- readers ---


def _job(response: Reply) -> Job:
    return Job.parse(response.json())


def _created_jobs(response: Reply) -> list[Job]:
    return [Job.parse(doc) for doc in response.json()["jobs"]]


def _receipts(response: Reply) -> list[Receipt]:
    return [Receipt(d["id"], d["state"], d["created"]) for d in response.json()["jobs"]]


def _nothing(response: Reply) -> None:
    return None


def _claimed(response: Reply) -> list[ClaimedJob]:
    if response.status_code == 204:
        return []
    return [ClaimedJob.parse(doc) for doc in response.json()["jobs"]]


def _page(response: Reply) -> JobPage:
    body = response.json()
    jobs = [Job.parse(d) for d in body["jobs"]]
    return JobPage(
        jobs,
        body.get("next_cursor"),
        body.get("prev_cursor"),
        body.get("total"),
        body.get("total_capped"),
    )


def _logs(response: Reply) -> LogPage:
    body = response.json()
    return LogPage([LogEntry.parse(d) for d in body["entries"]], body["last_seq"])


# --- jobs ---


def enqueue(job: NewJob) -> Call[Job]:
    return Call("POST", "/jobs", _job, json=job.document())


def enqueue_many(jobs: Iterable[NewJob]) -> Call[list[Job]]:
    return Call("POST", "/jobs", _created_jobs, json={"jobs": [j.document() for j in jobs]})


def enqueue_receipts(jobs: Iterable[NewJob]) -> Call[list[Receipt]]:
    """`enqueue_many`, answered minimally (`Prefer: return=minimal`): ids, not documents."""
    body = {"jobs": [j.document() for j in jobs]}
    return Call("POST", "/jobs", _receipts, json=body, headers={"Prefer": "return=minimal"})


def list_jobs(
    *,
    queue: str | Sequence[str] | None = None,
    type: str | Sequence[str] | None = None,
    state: str | Sequence[str] | None = None,
    owner: str | None = None,
    metadata: dict[str, str] | None = None,
    sort: str = "created_at",
    limit: int = 100,
    cursor: str | None = None,
    total: bool = False,
    **times: datetime,
) -> Call[JobPage]:
    """Filters as `GET /jobs` takes them; `times` are created_after, finished_before, ...;
    `total`: also count the matches (the page's `total`, up to 10,000)."""
    params: list[tuple[str, Any]] = [("sort", sort), ("limit", limit)]
    if total:
        params.append(("total", "true"))
    for name, value in (("queue", queue), ("type", type), ("state", state)):
        values = [value] if isinstance(value, str) else list(value or [])
        params += [(name, v) for v in values]
    params += [(f"meta.{k}", v) for k, v in (metadata or {}).items()]
    params += [(k, v.isoformat()) for k, v in times.items()]
    if owner is not None:
        params.append(("owner", owner))
    if cursor is not None:
        params.append(("cursor", cursor))
    return Call("GET", "/jobs", _page, params=params)


def get(job_id: str, wait: float = 0.0) -> Call[Job]:
    params = {"wait": wait} if wait > 0 else None
    return Call("GET", f"/jobs/{_seg(job_id)}", _job, params=params, wait=wait)


def update(
    job_id: str,
    *,
    priority: int | None = None,
    run_at: datetime | None = None,
    metadata: dict[str, str] | None = None,
) -> Call[Job]:
    body: dict[str, Any] = {
        "priority": priority,
        "metadata": metadata,
        "run_at": run_at.isoformat() if run_at else None,
    }
    body = {k: v for k, v in body.items() if v is not None}
    return Call("PATCH", f"/jobs/{_seg(job_id)}", _job, json=body)


def delete(job_id: str) -> Call[None]:
    return Call("DELETE", f"/jobs/{_seg(job_id)}", _nothing)


def delete_many(job_ids: Sequence[str]) -> Call[list[Deletion]]:
    def read(response: Reply) -> list[Deletion]:
        return [Deletion(r["id"], r["deleted"], r.get("error")) for r in response.json()["results"]]

    return Call("DELETE", "/jobs", read, params={"ids": ",".join(job_ids)})


def cancel(job_id: str, reason: str | None = None, details: Any = None) -> Call[Job]:
    body = {"reason": reason, "details": details}
    return Call("POST", f"/jobs/{_seg(job_id)}/cancel", _job, json=body)


def retry(job_id: str) -> Call[Job]:
    return Call("POST", f"/jobs/{_seg(job_id)}/retry", _job)


def attempts(job_id: str) -> Call[list[Attempt]]:
    def read(response: Reply) -> list[Attempt]:
        return [Attempt.parse(a) for a in response.json()["attempts"]]

    return Call("GET", f"/jobs/{_seg(job_id)}/attempts", read)


# --- workers ---


def claim(
    queues: Sequence[str],
    worker: WorkerId,
    *,
    types: Sequence[str] | None = None,
    max: int = 1,
    wait: float = 0.0,
    lease_seconds: float | None = None,
) -> Call[list[ClaimedJob]]:
    body = _claim_body(queues, worker, types, max, wait, lease_seconds)
    return Call("POST", "/claim", _claimed, json=body, wait=wait)


def ack_and_claim(
    items: Sequence[AckItem],
    queues: Sequence[str],
    worker: WorkerId,
    *,
    types: Sequence[str] | None = None,
    max: int = 1,
    wait: float = 0.0,
    lease_seconds: float | None = None,
) -> Call[tuple[list[AckResult], list[ClaimedJob]]]:
    """Acknowledge `items`, then claim, in one request (a worker's usual round trip)."""
    body = _claim_body(queues, worker, types, max, wait, lease_seconds)
    body["acks"] = [i.document() for i in items]

    def read(response: Reply) -> tuple[list[AckResult], list[ClaimedJob]]:
        doc = response.json()
        return _ack_results(doc), [ClaimedJob.parse(j) for j in doc["jobs"]]

    return Call("POST", "/claim", read, json=body, wait=wait)


def _claim_body(
    queues: Sequence[str],
    worker: WorkerId,
    types: Sequence[str] | None,
    max: int,
    wait: float,
    lease_seconds: float | None,
) -> dict[str, Any]:
    who = {k: v for k, v in asdict(worker).items() if v is not None}
    body: dict[str, Any] = {"queues": list(queues), "max": max, "wait": wait, "worker": who}
    if types is not None:
        body["types"] = list(types)
    if lease_seconds is not None:
        body["lease_seconds"] = lease_seconds
    return body


def heartbeat(job_id: str, token: str, progress: dict[str, Any] | None = None) -> Call[Heartbeat]:
    body: dict[str, Any] = {"token": token}
    if progress is not None:
        body["progress"] = progress

    def read(response: Reply) -> Heartbeat:
        return Heartbeat.parse(response.json())

    return Call("POST", f"/jobs/{_seg(job_id)}/heartbeat", read, json=body)


def complete(job_id: str, token: str, result: Any = None) -> Call[Job]:
    return Call(
        "POST", f"/jobs/{_seg(job_id)}/complete", _job, json={"token": token, "result": result}
    )


def fail(
    job_id: str,
    token: str,
    error: dict[str, Any] | None = None,
    *,
    retryable: bool = True,
    exit_code: int | None = None,
) -> Call[Job]:
    body = {"token": token, "error": error or {}, "retryable": retryable, "exit_code": exit_code}
    return Call("POST", f"/jobs/{_seg(job_id)}/fail", _job, json=body)


def release(job_id: str, token: str) -> Call[Job]:
    return Call("POST", f"/jobs/{_seg(job_id)}/release", _job, json={"token": token})


def snooze(
    job_id: str, token: str, seconds: float | None = None, run_at: datetime | None = None
) -> Call[Job]:
    body: dict[str, Any] = {"token": token}
    if seconds is not None:
        body["seconds"] = seconds
    if run_at is not None:
        body["run_at"] = run_at.isoformat()
    return Call("POST", f"/jobs/{_seg(job_id)}/snooze", _job, json=body)


def ack(items: Sequence[AckItem]) -> Call[list[AckResult]]:
    return Call(
        "POST",
        "/ack",
        lambda r: _ack_results(r.json()),
        json={"acks": [i.document() for i in items]},
    )


def _ack_results(doc: dict[str, Any]) -> list[AckResult]:
    return [AckResult(r["id"], r["ok"], r.get("state"), r.get("error")) for r in doc["results"]]


# --- logs ---


def append_logs(job_id: str, entries: Sequence[dict[str, Any] | str]) -> Call[int]:
    """Entries are strings (stdout lines) or {"text", "stream", "time"} documents."""
    docs = [{"text": e} if isinstance(e, str) else _log_doc(e) for e in entries]

    def read(response: Reply) -> int:
        return int(response.json()["last_seq"])

    return Call("POST", f"/jobs/{_seg(job_id)}/logs", read, json={"entries": docs})


def _log_doc(entry: dict[str, Any]) -> dict[str, Any]:
    time = entry.get("time")
    return {**entry, "time": time.isoformat()} if isinstance(time, datetime) else entry


def logs(
    job_id: str, *, after: int = 0, tail: int | None = None, limit: int = 10_000
) -> Call[LogPage]:
    params: dict[str, Any] = {"after": after, "limit": limit}
    if tail is not None:
        params["tail"] = tail
    return Call("GET", f"/jobs/{_seg(job_id)}/logs", _logs, params=params)


def log_text(job_id: str) -> Call[str]:
    return Call("GET", f"/jobs/{_seg(job_id)}/log.txt", lambda r: r.text)


# --- queues, workers, health ---


def queues() -> Call[list[Queue]]:
    return Call("GET", "/queues", lambda r: [Queue.parse(q) for q in r.json()["queues"]])


def pause(queue: str) -> Call[None]:
    return Call("POST", f"/queues/{_seg(queue)}/pause", _nothing)


def resume(queue: str) -> Call[None]:
    return Call("POST", f"/queues/{_seg(queue)}/resume", _nothing)


def _limits(response: Reply) -> QueueLimitsInfo:
    return QueueLimitsInfo.parse(response.json())


def queue_limits(queue: str) -> Call[QueueLimitsInfo]:
    return Call("GET", f"/queues/{_seg(queue)}/limits", _limits)


def set_queue_limits(queue: str, limits: QueueLimits) -> Call[QueueLimitsInfo]:
    """Replace the queue's limits as a whole (None: no such limit)."""
    return Call("PUT", f"/queues/{_seg(queue)}/limits", _limits, json=limits.document())


def clear_queue_limits(queue: str) -> Call[QueueLimitsInfo]:
    return Call("DELETE", f"/queues/{_seg(queue)}/limits", _limits)


def workers() -> Call[list[WorkerInfo]]:
    return Call("GET", "/workers", lambda r: [WorkerInfo.parse(w) for w in r.json()["workers"]])


def problems() -> Call[list[Problem]]:
    return Call("GET", "/problems", lambda r: [Problem.parse(p) for p in r.json()["problems"]])


def problem(problem_id: str) -> Call[Problem]:
    return Call("GET", f"/problems/{_seg(problem_id)}", lambda r: Problem.parse(r.json()))


def healthz() -> Call[bool]:
    return Call("GET", "/healthz", lambda r: r.json().get("status") == "ok")
