"""The job and the values that travel with it, as the engine and the stores see them.

Times are UNIX seconds (float, UTC). Interfaces render them as they like.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any

from jobq import loglimit
from jobq.entropy import random_bytes
from jobq.errors import JobqError
from jobq.states import Event, State

JSON = Any


def new_id(now: float | None = None) -> str:
    """A UUIDv7: 48 bits of milliseconds, version, 74 random bits; sorts by creation time."""
    return new_ids(1, now)[0]


def new_ids(count: int, now: float | None = None) -> list[str]:
    """`count` UUIDv7s of one moment, in ascending order. Built as text: the time part once,
    then per id 20 hex digits of randomness, 74 bits of which are used (3 digits of rand_a, 2
    bits and 15 digits of rand_b, after the version digit 7 and the variant bits 10).

    Ascending, so that a batch's jobs sort by id as they do by seq: rows keyed by job id (the
    attempts) are then written for a batch's jobs side by side, not scattered over every page
    that holds ids of the same millisecond."""
    ms = int((time.time() if now is None else now) * 1000) & ((1 << 48) - 1)
    t = f"{ms:012x}"
    head = f"{t[:8]}-{t[8:]}-7"
    digits = random_bytes(10 * count).hex()
    return sorted(
        f"{head}{r[:3]}-{_VARIANT[r[3]]}{r[4:7]}-{r[7:19]}"
        for r in (digits[at : at + 20] for at in range(0, 20 * count, 20))
    )


_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}  # the bits 10, then 2 random


@dataclass(slots=True)
class Defaults:
    """What a job gets when its producer does not say, and the engine's bounds; `jobq serve`'s
    options and `Job`'s fields take their defaults from here."""

    lease_seconds: float = 60.0
    max_attempts: int = 3
    backoff_base: float = 2.0
    backoff_max: float = 3600.0
    result_ttl: float | None = 7 * 86400.0
    max_claim_wait: float = 60.0
    max_result_wait: float = 300.0
    max_log_bytes: int | None = loglimit.DEFAULT_MAX_BYTES  # per job (None: no limit)
    idle_after: float = 60.0  # seconds waiting jobs go untaken before a no_worker problem


DEFAULTS = Defaults()


@dataclass(slots=True)
class Worker:
    """Who holds a job: a worker process somewhere, and the user whose key claimed the job
    (set by the server from the caller, never by the worker; None in the open mode)."""

    name: str
    host: str | None = None
    pid: int | None = None
    user: str | None = None
    slots: int | None = None  # how many jobs it runs at once, as it says (None: unsaid)


@dataclass(slots=True)
class Job:
    id: str
    queue: str
    type: str = "default"
    payload: JSON = None
    metadata: dict[str, str] = field(default_factory=dict)
    priority: int = 0
    state: State = State.queued
    seq: int = 0
    run_at: float = 0.0
    lease_seconds: float = DEFAULTS.lease_seconds
    deadline_seconds: float | None = None
    max_attempts: int = DEFAULTS.max_attempts
    backoff_base: float = DEFAULTS.backoff_base
    backoff_max: float = DEFAULTS.backoff_max
    attempt: int = 0
    result: JSON = None
    error: dict[str, Any] | None = None
    exit_code: int | None = None
    progress: dict[str, Any] | None = None
    result_ttl: float | None = None
    callback_url: str | None = None
    owner: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    last_heartbeat_at: float | None = None
    lease_token: str | None = None
    lease_expires_at: float | None = None
    deadline_at: float | None = None
    worker: Worker | None = None
    cancel_requested: bool = False
    cancel_reason: dict[str, Any] | None = None
    retry_of: str | None = None
    retried_by: str | None = None
    unique_key: str | None = None
    purge_at: float | None = None
    concurrency_key: str | None = None  # jobs of one key share its limit (flow control)


_JOB_VALUES = attrgetter(*(f.name for f in fields(Job)))


def evolve(job: Job, changes: dict[str, Any]) -> Job:
    """A copy of `job` with `changes`: `dataclasses.replace` for the writer's hot path (a
    quarter of its cost, measured: 1.0 against 3.9 us)."""
    new = Job(*_JOB_VALUES(job))
    for name, value in changes.items():
        setattr(new, name, value)
    return new


@dataclass(slots=True)
class Plan:
    """What the engine decided to do to one job: the event and the fields it changes.

    The store sets `state` from the transition table and applies the plan with a
    compare-and-set on the job's current state, so a plan made from a stale read fails.
    """

    event: Event
    changes: dict[str, Any] = field(default_factory=dict)
    attempt_outcome: str | None = None  # closes the current attempt record
    attempt_error: dict[str, Any] | None = None
    callback: bool = False  # queue the job's callback (it has finished)
    spawn: Job | None = None  # a new job to insert with this transition (see jobq.engine.respawn)


Decide = Callable[[Job], Plan]


@dataclass(slots=True)
class Step:
    """One job to move: the store loads it, checks the lease token, asks `decide` for a plan."""

    job_id: str
    decide: Decide
    token: str | None = None


@dataclass(slots=True)
class Moved:
    """A job after a transition, with the state it left and the event that moved it (None
    for a new job)."""

    job: Job
    previous: State | None
    event: Event | None = None


StepResult = Moved | JobqError


@dataclass(slots=True)
class ClaimSpec:
    """A claim: up to `limit` queued jobs of `queues` (None: every queue there is, made
    before or while it waits; no list of them is ever read) and `types` (None: any type)."""

    queues: list[str] | None
    types: list[str] | None
    limit: int
    lease_seconds: float | None
    worker: Worker
    ids: list[str] | None = None  # claim only these jobs (each still must be queued)
    # the claim's queues that have a flow limit, as the engine last read them: the store
    # claims from these (with their room counted) before the other queues
    limited: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class QueueLimits:
    """A queue's flow limits (None: no such limit): at most `concurrency` of its jobs running
    at once, at most `rate` of them started in any `rate_period` seconds, and at most
    `per_key` jobs of one concurrency key running at once (the queue is then keyed: its keys
    take turns, each one job a turn unless `weights` gives it more); and a job queued longer
    than `aging` seconds goes before newer jobs of any priority (a low priority is never
    starved)."""

    concurrency: int | None = None
    rate: int | None = None
    rate_period: float | None = None
    per_key: int | None = None
    aging: float | None = None
    # in a keyed queue, keys that take more than one job per turn: (key, weight), by key
    weights: tuple[tuple[str, int], ...] = ()

    @property
    def any(self) -> bool:
        named = (self.concurrency, self.rate, self.per_key, self.aging)
        return any(value is not None for value in named)


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """What an operator set on a queue."""

    paused: bool = False
    limits: QueueLimits = QueueLimits()


@dataclass(frozen=True, slots=True)
class QueueChange:
    """A change of a queue's settings: None leaves that setting as it is."""

    paused: bool | None = None
    limits: QueueLimits | None = None


@dataclass(slots=True)
class Attempt:
    job_id: str
    attempt: int
    started_at: float
    finished_at: float | None = None
    worker: Worker | None = None
    outcome: str | None = None  # succeeded | failed | expired | cancelled | released
    error: dict[str, Any] | None = None


@dataclass(slots=True)
class LogEntry:
    seq: int
    time: float
    stream: str
    text: str
    attempt: int = 0


@dataclass(slots=True)
class QueueStats:
    name: str
    counts: dict[str, int]
    oldest_queued_at: float | None
    paused: bool
    retried: dict[str, int] = field(default_factory=dict)  # finished jobs retried, by state


@dataclass(slots=True)
class FinishedCount:
    """How many jobs of `queue` reached `state` (a terminal one) in time bucket `bucket`
    (queue None: the queues not named, together)."""

    queue: str | None
    bucket: int
    state: str
    count: int
    waited: int = 0  # how many of them had started (cancelled while waiting had not)
    wait_seconds: float = 0.0  # their waits before the last attempt (run_at to started_at)


@dataclass(slots=True)
class HeldJob:
    """A running job a worker holds."""

    id: str
    queue: str
    type: str


@dataclass(slots=True)
class WorkerSeen:
    name: str
    host: str | None
    pid: int | None
    queues: list[str] | None  # None: it asked for every queue
    last_seen: float
    jobs_held: int
    slots: int | None = None  # its concurrency, as it said when it last claimed
    held: list[HeldJob] = field(default_factory=list)  # the running jobs counted in jobs_held


@dataclass(slots=True)
class TypeActivity:
    """Jobs of one queue and type that wait: how many, since when, and when a worker last
    took (claimed or heartbeated) a job of this queue and type."""

    queue: str
    type: str
    queued: int
    running: int
    oldest_waiting_since: float | None
    last_taken_at: float | None


@dataclass(slots=True)
class Callback:
    id: int
    job_id: str
    url: str
    attempts: int
    next_at: float


@dataclass(slots=True)
class JobQuery:
    queues: list[str] | None = None
    types: list[str] | None = None
    states: list[State] | None = None
    owner: str | None = None
    ids: list[str] | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    created_after: float | None = None
    created_before: float | None = None
    started_after: float | None = None
    started_before: float | None = None
    finished_after: float | None = None
    finished_before: float | None = None
    retried: bool | None = None  # only jobs retried (True) or not retried (False): retried_by
    sort: str = "seq"  # one of SORT_FIELDS
    descending: bool = False
    limit: int = 100
    after: tuple[Any, int] | None = None  # keyset cursor: (sort value, seq) of the last row seen
    # only ids that begin with this (hex digits and dashes), among the first ID_PREFIX_WINDOW
    # such ids in id order (see id_prefix_bounds)
    id_prefix: str | None = None


ID_PREFIX_WINDOW = 1000  # ids a prefix search looks at, in id order, before any other filter
_HEX = "0123456789abcdef"


def id_prefix_bounds(prefix: str) -> tuple[str, str | None]:
    """[low, high): the range of the id index that holds every id beginning with `prefix`
    (lower-case hex digits and dashes; None: no upper bound). `high` is the prefix as a hex
    number plus one in its last digit, so the range holds in any collation that sorts digits
    before letters, whether it weighs dashes or ignores them (ids have their dashes in the
    same places); the store still checks the prefix itself on each id in the range."""
    chars = list(prefix)
    while chars:
        digit = chars.pop()
        if digit == "-":
            continue
        if digit != "f":
            chars.append(_HEX[_HEX.index(digit) + 1])
            return prefix, "".join(chars)
    return prefix, None


SORT_FIELDS = ("seq", "priority", "run_at", "started_at", "finished_at", "updated_at")


@dataclass(slots=True)
class Operation:
    """Work on many jobs, done in batches in the background (jobq.engine.operations): a bulk
    retry, cancel or delete by filter, a queue's purge or deletion. Its cursor (`lane`,
    `after_seq`) and counts are written with each batch, in the batch's transaction."""

    id: str
    action: str  # jobq.engine.selection.ACTIONS
    selection: dict[str, Any]  # the filter as asked (jobq.engine.selection.Selection)
    queues: list[str] | None  # the queues it may act on (None: every queue, an admin's)
    owner: str | None  # the user who began it (None: the open mode)
    upto_seq: int  # the newest job when it began: jobs made later are not its
    state: str = "running"  # running, done, failed, cancelled
    lane: int = 0  # which (queue, state) it walks (jobq.engine.selection.lanes)
    after_seq: int = 0  # the last seq it looked at in that lane
    matched: int = 0  # jobs looked at that the filter matched
    done: int = 0  # of those, jobs it acted on
    failed: int = 0  # of those, jobs it could not act on (a job changed meanwhile)
    errors: list[dict[str, Any]] = field(default_factory=list)  # the first failures
    message: str | None = None  # why it failed or was cancelled
    reason: str | None = None  # a cancel's reason, given to each job it cancels
    created_at: float = 0.0
    updated_at: float = 0.0
    finished_at: float | None = None
    lease_token: str | None = None  # the runner that holds it (renewed by each batch)
    lease_until: float | None = None


@dataclass(slots=True)
class Work:
    """One batch of an operation, applied in one transaction: new jobs (retries), steps
    (cancels), jobs to delete if their state is in `deletable`."""

    inserts: list[Job] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    deletable: frozenset[State] = frozenset()


@dataclass(slots=True)
class Worked:
    """What a batch did, item by item, in the order of its `Work`."""

    inserted: list[tuple[Job, bool]] = field(default_factory=list)
    moved: list[StepResult] = field(default_factory=list)
    deleted: list[State | None] = field(default_factory=list)
