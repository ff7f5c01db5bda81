"""Wire types of the native API (requests; responses are documented by `JobOut`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from jobq.engine.limits import MAX_CONCURRENCY, MAX_PERIOD, MAX_RATE, MAX_WEIGHT, MAX_WEIGHTS
from jobq.engine.rules import MAX_LEASE_SECONDS, MAX_SNOOZE_SECONDS

Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:@/-]+$")]
MetaKey = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")]
Seconds = Annotated[float, Field(ge=0, le=10 * 365 * 86400)]
LeaseSeconds = Annotated[float, Field(gt=0, le=MAX_LEASE_SECONDS)]
SnoozeSeconds = Annotated[
    float,
    Field(
        ge=0,
        le=MAX_SNOOZE_SECONDS,
        description="Run the job again this many seconds from now (0: queued at once), "
        "the attempt not counted; at most a year.",
    ),
]
Priority = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JobIn(Strict):
    queue: Name = "default"
    type: Name = "default"
    payload: Any = None
    metadata: dict[MetaKey, Annotated[str, Field(max_length=10_000)]] = Field(default_factory=dict)
    priority: Priority = 0
    run_at: datetime | None = None
    delay: Seconds | None = None
    lease_seconds: LeaseSeconds | None = None
    deadline_seconds: Annotated[float, Field(gt=0, le=10 * 365 * 86400)] | None = None
    max_attempts: Annotated[int, Field(ge=1, le=1000)] | None = None
    backoff_base: Annotated[float, Field(ge=0, le=86400)] | None = None
    backoff_max: Annotated[float, Field(ge=0, le=30 * 86400)] | None = None
    result_ttl: Seconds | None = None
    keep_forever: bool = False
    callback_url: Annotated[str, Field(max_length=2000, pattern=r"^https?://")] | None = None
    unique_key: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    concurrency_key: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class JobBatchIn(Strict):
    jobs: Annotated[list[JobIn], Field(min_length=1, max_length=10_000)]


def _one_or_many(value: Any) -> str:
    return "JobBatchIn" if isinstance(value, dict) and "jobs" in value else "JobIn"


OneOrMany = Annotated[
    Annotated[JobIn, Tag("JobIn")] | Annotated[JobBatchIn, Tag("JobBatchIn")],
    Discriminator(_one_or_many),
]


class JobPatch(Strict):
    priority: Priority | None = None
    run_at: datetime | None = None
    metadata: dict[MetaKey, Annotated[str, Field(max_length=10_000)]] | None = None


class CancelIn(Strict):
    reason: Annotated[str, Field(max_length=2000)] | None = None
    details: Any = None


class WorkerIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    host: Annotated[str, Field(max_length=255)] | None = None
    pid: Annotated[int, Field(ge=0, le=2**31)] | None = None
    slots: (
        Annotated[int, Field(ge=1, le=100_000, description="how many jobs it runs at once")] | None
    ) = None


class ProgressIn(Strict):
    step: Annotated[float, Field(ge=0)] | None = None
    total: Annotated[float, Field(ge=0)] | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None


class HeartbeatIn(Strict):
    token: Annotated[str, Field(min_length=1, max_length=200)]
    progress: ProgressIn | None = None


class CompleteIn(Strict):
    token: Annotated[str, Field(min_length=1, max_length=200)]
    result: Any = None


class ErrorIn(Strict):
    code: Annotated[str, Field(min_length=1, max_length=200)] = "error"
    message: Annotated[str, Field(max_length=100_000)] = ""
    details: Any = None


class FailIn(Strict):
    token: Annotated[str, Field(min_length=1, max_length=200)]
    error: ErrorIn = Field(default_factory=ErrorIn)
    retryable: bool = True
    exit_code: Annotated[int, Field(ge=-(2**31), le=2**31 - 1)] | None = None


class ReleaseIn(Strict):
    token: Annotated[str, Field(min_length=1, max_length=200)]


class SnoozeIn(Strict):
    """Give `seconds` or `run_at` (a time already past: queued at once), not both."""

    token: Annotated[str, Field(min_length=1, max_length=200)]
    seconds: SnoozeSeconds | None = None
    run_at: Annotated[
        datetime | None,
        Field(description="Run the job again at this time (at most a year ahead)."),
    ] = None

    @model_validator(mode="after")
    def _one_way(self) -> SnoozeIn:
        if (self.seconds is None) == (self.run_at is None):
            raise ValueError("give either `seconds` or `run_at`")
        return self


class AckItem(Strict):
    id: Annotated[str, Field(min_length=1, max_length=100)]
    token: Annotated[str, Field(min_length=1, max_length=200)]
    result: Any = None
    error: ErrorIn | None = None
    retryable: bool = True
    exit_code: Annotated[int, Field(ge=-(2**31), le=2**31 - 1)] | None = None
    snooze: Annotated[
        SnoozeSeconds | None,
        Field(
            description="Snooze the job for this many seconds, as POST /jobs/{id}/snooze "
            "does, instead of completing or failing it (no `result` or `error` then)."
        ),
    ] = None


class AckIn(Strict):
    acks: Annotated[list[AckItem], Field(min_length=1, max_length=10_000)]


class ClaimIn(Strict):
    queues: Annotated[list[Name], Field(min_length=1, max_length=100)]
    types: Annotated[list[Name], Field(min_length=1, max_length=100)] | None = None
    max: Annotated[int, Field(ge=1, le=1000)] = 1
    wait: Annotated[float, Field(ge=0, le=300)] = 0
    lease_seconds: LeaseSeconds | None = None
    worker: WorkerIn
    acks: Annotated[
        list[AckItem] | None,
        Field(
            max_length=10_000,
            description="Outcomes to store before claiming, as POST "
            "/ack takes them; the answer then carries their `results` (and is 200, with "
            "`jobs` possibly empty, rather than 204).",
        ),
    ] = None


class LogEntryIn(Strict):
    stream: Literal["stdout", "stderr", "system"] = "stdout"
    time: datetime | None = None
    text: Annotated[str, Field(max_length=1_000_000)]


class LogsIn(Strict):
    entries: Annotated[list[LogEntryIn], Field(min_length=1, max_length=100_000)]

    @field_validator("entries")
    @classmethod
    def _bounded(cls, entries: list[LogEntryIn]) -> list[LogEntryIn]:
        if sum(len(e.text) for e in entries) > 16_000_000:
            raise ValueError("log entries over 16 MB of text in one request")
        return entries


class JobOut(BaseModel):
    """A job as the native API returns it (documentation of the response shape)."""

    id: str
    seq: int
    queue: str
    type: str
    state: Literal["scheduled", "queued", "running", "succeeded", "failed", "cancelled"]
    cancel_requested: bool
    payload: Any
    metadata: dict[str, str]
    priority: int
    run_at: str
    lease_seconds: float
    deadline_seconds: float | None
    max_attempts: int
    backoff_base: float
    backoff_max: float
    attempt: int
    result: Any
    error: dict[str, Any] | None
    exit_code: int | None
    progress: dict[str, Any] | None
    result_ttl: float | None
    callback_url: str | None
    owner: str | None
    unique_key: str | None
    concurrency_key: str | None
    retry_of: str | None
    retried_by: str | None
    worker: dict[str, Any] | None
    created_at: str
    updated_at: str
    started_at: str | None
    finished_at: str | None
    last_heartbeat_at: str | None
    lease_expires_at: str | None
    deadline_at: str | None
    cancel_reason: dict[str, Any] | None
    lease_token: str | None = None


class JobCreatedOut(JobOut):
    """One job of a batch enqueue: `created` is false for a live duplicate of a unique_key."""

    created: bool


class JobBatchOut(BaseModel):
    jobs: list[JobCreatedOut]


class JobReceiptOut(BaseModel):
    """A job enqueued with `Prefer: return=minimal`: its id, state and whether it was created
    (false: a live duplicate of its unique_key), without the rest of its document."""

    id: str
    state: Literal["scheduled", "queued", "running", "succeeded", "failed", "cancelled"]
    created: bool


class JobReceiptBatchOut(BaseModel):
    jobs: list[JobReceiptOut]


class ErrorOut(BaseModel):
    error: dict[str, Any]


class SelectionIn(Strict):
    """Which jobs a bulk operation acts on: every term given must hold (a list: any of its
    values); states beyond those the action acts on are refused."""

    queues: Annotated[list[Name], Field(min_length=1, max_length=1000)] | None = None
    types: Annotated[list[Name], Field(min_length=1, max_length=100)] | None = None
    states: Annotated[list[str], Field(min_length=1, max_length=6)] | None = None
    metadata: dict[MetaKey, Annotated[str, Field(max_length=10_000)]] = Field(
        default_factory=dict, max_length=20
    )
    created_after: datetime | None = None
    created_before: datetime | None = None
    started_after: datetime | None = None
    started_before: datetime | None = None
    finished_after: datetime | None = None
    finished_before: datetime | None = None


class BulkIn(Strict):
    ids: (
        Annotated[
            list[Annotated[str, Field(max_length=100)]],
            Field(min_length=1, max_length=1000, description="Jobs by id: answered at once."),
        ]
        | None
    ) = None
    filter: Annotated[
        SelectionIn | None,
        Field(description="Jobs by filter: an operation in the background (202)."),
    ] = None
    dry_run: Annotated[
        bool, Field(description="With `filter`: only count the jobs it would act on.")
    ] = False
    reason: Annotated[str, Field(max_length=2000)] | None = None
    details: Any = None

    @model_validator(mode="after")
    def _one_way(self) -> BulkIn:
        if (self.ids is None) == (self.filter is None):
            raise ValueError("give either `ids` or `filter`")
        return self


# --- queue flow limits ---

Concurrency = Annotated[int, Field(strict=True, ge=1, le=MAX_CONCURRENCY)]
Rate = Annotated[int, Field(strict=True, ge=1, le=MAX_RATE)]
Period = Annotated[float, Field(strict=True, gt=0, le=MAX_PERIOD)]
Weight = Annotated[int, Field(strict=True, ge=1, le=MAX_WEIGHT)]


class QueueLimitsIn(Strict):
    """A queue's flow limits, replacing the ones it has as a whole: a field null or absent
    is no such limit. A rate comes with its period."""

    concurrency: Annotated[
        Concurrency | None, Field(description="at most this many of its jobs run at once")
    ] = None
    rate: Annotated[
        Rate | None, Field(description="at most this many of its jobs start per `rate_period`")
    ] = None
    rate_period: Annotated[Period | None, Field(description="seconds")] = None
    per_key: Annotated[
        Concurrency | None,
        Field(
            description="at most this many jobs of one `concurrency_key` run at once; "
            "the queue's keys then take turns"
        ),
    ] = None
    aging: Annotated[
        Period | None,
        Field(description="seconds: a job queued longer goes before newer jobs of any priority"),
    ] = None
    weights: Annotated[
        dict[Name, Weight] | None,
        Field(
            max_length=MAX_WEIGHTS,
            description="in a keyed queue, keys that take more than one job per turn",
        ),
    ] = None


class LimitsOut(BaseModel):
    """A queue's flow limits (null: no such limit)."""

    concurrency: int | None
    rate: int | None
    rate_period: float | None
    per_key: int | None
    aging: float | None
    weights: dict[str, int]


class QueueLimitsOut(LimitsOut):
    """A queue's flow limits, whether an operator paused it, and how many of its jobs run."""

    queue: str
    paused: bool
    running: int


class QueueOut(BaseModel):
    """A queue as `GET /queues` lists it."""

    name: str
    counts: dict[str, int]
    retried: dict[str, int]
    paused: bool
    oldest_queued_at: str | None
    limits: LimitsOut | None


class QueuesOut(BaseModel):
    queues: list[QueueOut]
