"""What the client returns: the native API's documents as typed, read-only dataclasses.

Times are timezone-aware `datetime`s. Fields a newer server adds are ignored, so an older
client keeps working.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from jobq.client.build import Convert, build

J = TypeVar("J", bound="Job")


def parse_time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _times(*names: str) -> dict[str, Convert]:
    return dict.fromkeys(names, parse_time)


@dataclass(frozen=True, slots=True)
class WorkerRef:
    """The worker that holds (or held) a job."""

    name: str
    host: str | None = None
    pid: int | None = None

    @classmethod
    def parse(cls, doc: dict[str, Any] | None) -> WorkerRef | None:
        return None if doc is None else cls(doc["name"], doc.get("host"), doc.get("pid"))


JOB_FIELDS = {
    **_times(
        "run_at",
        "created_at",
        "updated_at",
        "started_at",
        "finished_at",
        "last_heartbeat_at",
        "lease_expires_at",
        "deadline_at",
    ),
    "worker": WorkerRef.parse,
}


@dataclass(frozen=True, slots=True)
class Job:
    """A job as the server last reported it."""

    id: str
    seq: int
    queue: str
    type: str
    state: str
    cancel_requested: bool = False
    payload: Any = None
    metadata: dict[str, str] = field(default_factory=dict)
    priority: int = 0
    run_at: datetime | None = None
    lease_seconds: float = 0.0
    deadline_seconds: float | None = None
    max_attempts: int = 1
    backoff_base: float = 0.0
    backoff_max: float = 0.0
    attempt: int = 0
    result: Any = None
    error: dict[str, Any] | None = None
    exit_code: int | None = None
    progress: dict[str, Any] | None = None
    result_ttl: float | None = None
    callback_url: str | None = None
    owner: str | None = None
    unique_key: str | None = None
    concurrency_key: str | None = None
    retry_of: str | None = None
    retried_by: str | None = None
    worker: WorkerRef | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    last_heartbeat_at: datetime | None = None
    lease_expires_at: datetime | None = None
    deadline_at: datetime | None = None
    cancel_reason: dict[str, Any] | None = None
    created: bool | None = None  # set by enqueue: False when a live unique_key matched

    @property
    def finished(self) -> bool:
        return self.state in ("succeeded", "failed", "cancelled")

    @classmethod
    def parse(cls: builtins.type[J], doc: dict[str, Any]) -> J:
        return build(cls, doc, JOB_FIELDS)


@dataclass(frozen=True, slots=True)
class ClaimedJob(Job):
    """A job this worker holds: `lease_token` must accompany heartbeat, complete and fail."""

    lease_token: str = ""


@dataclass(frozen=True, slots=True)
class JobPage:
    """One page of a listing; pass `next_cursor` back for the next (None on the last), or
    `prev_cursor` for the one before (None on the first). With `count=True`, `total` is how
    many jobs match (at most 10,000; `total_capped` True when there are more)."""

    jobs: list[Job]
    next_cursor: str | None
    prev_cursor: str | None = None
    total: int | None = None
    total_capped: bool | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    attempt: int
    started_at: datetime | None
    finished_at: datetime | None
    worker: WorkerRef | None
    outcome: str | None
    error: dict[str, Any] | None

    @classmethod
    def parse(cls, doc: dict[str, Any]) -> Attempt:
        return cls(
            doc["attempt"],
            parse_time(doc.get("started_at")),
            parse_time(doc.get("finished_at")),
            WorkerRef.parse(doc.get("worker")),
            doc.get("outcome"),
            doc.get("error"),
        )


LOG_FIELDS = _times("time")
HEARTBEAT_FIELDS = _times("lease_expires_at")
QUEUE_FIELDS = {**_times("oldest_queued_at"), "limits": lambda doc: QueueLimits.parse(doc)}
WORKER_FIELDS = _times("last_seen")
PROBLEM_FIELDS = _times()


@dataclass(frozen=True, slots=True)
class LogEntry:
    seq: int
    time: datetime | None
    stream: str
    text: str
    attempt: int | None = None

    @classmethod
    def parse(cls, doc: dict[str, Any]) -> LogEntry:
        return build(cls, doc, LOG_FIELDS)


@dataclass(frozen=True, slots=True)
class LogPage:
    entries: list[LogEntry]
    last_seq: int


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The server's answer to a heartbeat: stop the job when `cancel_requested`."""

    id: str
    state: str
    cancel_requested: bool
    lease_expires_at: datetime | None

    @classmethod
    def parse(cls, doc: dict[str, Any]) -> Heartbeat:
        return build(cls, doc, HEARTBEAT_FIELDS)


@dataclass(frozen=True, slots=True)
class AckItem:
    """One outcome for `ack`: a result, or an error when `error` is set, or a snooze of
    `snooze` seconds when that is set (the job runs again then, the attempt not counted)."""

    id: str
    token: str
    result: Any = None
    error: dict[str, Any] | None = None
    retryable: bool = True
    exit_code: int | None = None
    snooze: float | None = None

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"id": self.id, "token": self.token}
        if self.snooze is not None:
            doc["snooze"] = self.snooze
        elif self.error is None:
            doc["result"] = self.result
        else:
            doc.update(error=self.error, retryable=self.retryable, exit_code=self.exit_code)
        return doc


@dataclass(frozen=True, slots=True)
class AckResult:
    """How one acknowledgement went; `error` holds code, message and details when not ok."""

    id: str
    ok: bool
    state: str | None = None
    error: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    """A job enqueued with a minimal answer: its id, its state, and whether it was created
    (False: a live job with the same unique_key came back instead)."""

    id: str
    state: str
    created: bool


@dataclass(frozen=True, slots=True)
class Deletion:
    id: str
    deleted: bool
    error: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class QueueLimits:
    """A queue's flow limits (None: no such limit): at most `concurrency` of its jobs run at
    once, at most `rate` of them start in any `rate_period` seconds, at most `per_key` jobs
    of one concurrency key run at once (a key of `weights` takes its weight's worth of jobs
    a turn); a job queued longer than `aging` seconds goes first."""

    concurrency: int | None = None
    rate: int | None = None
    rate_period: float | None = None
    per_key: int | None = None
    aging: float | None = None
    weights: dict[str, int] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}

    @classmethod
    def parse(cls, doc: dict[str, Any]) -> QueueLimits:
        return build(cls, doc, {})


@dataclass(frozen=True, slots=True)
class QueueLimitsInfo:
    """A queue's flow limits (None: no such limit), whether an operator paused it, and how
    many of its jobs run now."""

    queue: str
    concurrency: int | None
    rate: int | None
    rate_period: float | None
    per_key: int | None
    aging: float | None
    weights: dict[str, int]
    paused: bool
    running: int

    @classmethod
    def parse(cls, doc: dict[str, Any]) -> QueueLimitsInfo:
        return build(cls, doc, {})

    @property
    def limits(self) -> QueueLimits:
        return QueueLimits(
            self.concurrency, self.rate, self.rate_period, self.per_key, self.aging, self.weights
        )


@dataclass(frozen=True, slots=True)
class Queue:
    name: str
    counts: dict[str, int]
    paused: bool
    oldest_queued_at: datetime | None
    # of the finished jobs counted, those retried, by state (older servers send none)
    retried: dict[str, int] = field(default_factory=dict)
    limits: QueueLimits | None = None  # None: no limits (or an older server)

    @classmethod
    def parse(cls, doc: dict[str, Any]) -> Queue:
        return build(cls, doc, QUEUE_FIELDS)


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    name: str
    host: str | None
    pid: int | None
    queues: list[str] | None  # None: every queue
    last_seen: datetime | None
    jobs_held: int
    live: bool = True  # claimed within a minute, or holds a job
    slots: int | None = None  # its concurrency, when it said
    jobs: list[dict[str, Any]] = field(default_factory=list)  # the jobs it holds: id, queue, type

    @classmethod
    def parse(cls, doc: dict[str, Any]) -> WorkerInfo:
        return build(cls, doc, WORKER_FIELDS)


@dataclass(frozen=True, slots=True)
class Problem:
    """Why jobs cannot go on (`kind`: queue_paused, no_worker, failing, deadline). The id
    stays the same while the cause lasts; `jobs` lists the first of the `job_count` jobs."""

    id: str
    kind: str
    queue: str
    type: str | None
    message: str
    jobs: list[str]
    job_count: int
    data: dict[str, str]

    @classmethod
    def parse(cls, doc: dict[str, Any]) -> Problem:
        return build(cls, doc, PROBLEM_FIELDS)


@dataclass(frozen=True, slots=True)
class Event:
    """A server-sent event: its name (`log`, `end`, `transition`) and its JSON data."""

    event: str
    data: Any
    id: str | None = None
