"""The store interface: a small typed async surface that runs SQL and nothing more.

All job rules live in the engine. A store loads, inserts and updates rows; it applies a
transition only through the state table (`jobq.states`) as a compare-and-set on the current
state and, where given, the lease token. Both implementations must pass the same test suite.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from jobq.model import (
    Attempt,
    Callback,
    ClaimSpec,
    FinishedCount,
    Job,
    JobQuery,
    LogEntry,
    QueueChange,
    QueueSettings,
    QueueStats,
    Step,
    StepResult,
    TypeActivity,
    Worker,
    WorkerSeen,
)
from jobq.states import State


class Store(ABC):
    """Where jobs live. Every method is one atomic unit of work."""

    # lifecycle
    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def ping(self) -> None:
        """Raise StoreUnavailable if the database cannot be reached."""

    # jobs
    @abstractmethod
    async def insert(self, jobs: Sequence[Job], now: float) -> list[tuple[Job, bool]]:
        """Insert all or none. A job whose unique_key matches a live job is not inserted;
        the live one is returned with False. A job with retry_of marks that job retried_by."""

    @abstractmethod
    async def get(self, job_id: str) -> Job | None: ...

    @abstractmethod
    async def list_jobs(self, query: JobQuery) -> list[Job]:
        """Jobs matching `query`, in its stable order, at most `query.limit`."""

    @abstractmethod
    async def count_jobs(self, query: JobQuery, cap: int) -> int:
        """How many jobs match `query`'s filters, counting at most `cap` (its limit, sort and
        cursor are ignored): the cost follows `cap`, not the size of the table."""

    @abstractmethod
    async def claim(self, spec: ClaimSpec, lease_key: str, now: float) -> list[Job]:
        """Move up to spec.limit queued jobs (highest priority, then oldest) of unpaused
        queues to running and open an attempt for each. Each job's lease token is
        `lease_key + "." + str(seq)`: secret through the key, distinct through the seq."""

    @abstractmethod
    async def transition(self, steps: Sequence[Step], now: float) -> list[StepResult]:
        """For each step, in one transaction: load the job, check the token, ask the step
        for a plan, apply it by compare-and-set. Each step succeeds or fails on its own."""

    async def transition_and_claim(
        self, steps: Sequence[Step], spec: ClaimSpec, lease_key: str, now: float
    ) -> tuple[list[StepResult], list[Job]]:
        """`transition(steps)` then `claim(spec)`: a worker's outcomes and its next claim.
        Stores override this to do both in one transaction (one commit, one round trip)."""
        return await self.transition(steps, now), await self.claim(spec, lease_key, now)

    async def insert_and_claim(
        self, jobs: Sequence[Job], claims: Sequence[tuple[ClaimSpec, str]], now: float
    ) -> tuple[list[tuple[Job, bool]], list[list[Job]]]:
        """`insert(jobs)`, then `claim(spec, lease_key)` for each of `claims`, in order: new
        work handed to the claims that wait for it. Stores override this to do it all in one
        transaction (one commit instead of two before a waiting worker holds a new job)."""
        inserted = await self.insert(jobs, now)
        return inserted, [await self.claim(spec, key, now) for spec, key in claims]

    @abstractmethod
    async def delete(self, ids: Sequence[str], allowed: frozenset[State]) -> list[State | None]:
        """Delete each job whose state is in `allowed`. Per id: its state before (deleted
        if in `allowed`, refused otherwise) or None when it does not exist."""

    # background duties
    @abstractmethod
    async def due_scheduled(self, now: float, limit: int) -> list[str]:
        """Ids of scheduled jobs whose run_at has passed."""

    @abstractmethod
    async def overdue_running(self, now: float, limit: int) -> list[str]:
        """Ids of running jobs whose lease or deadline has passed, and of waiting jobs whose
        deadline (fixed at enqueue) has."""

    @abstractmethod
    async def fail_unprocessable(
        self, job_id: str, error: dict[str, Any], now: float, purge_at: float | None
    ) -> bool:
        """Fail a live job whose stored values jobq cannot process, writing only the columns
        that say so (state, error, finished_at, purge_at; its lease and open attempt end),
        without deciding anything from the row. Whether it was live."""

    @abstractmethod
    async def purge(self, now: float, limit: int) -> int:
        """Delete finished jobs whose purge_at has passed; how many."""

    @abstractmethod
    async def next_due(self) -> float | None:
        """The earliest time at which some background duty has work."""

    # attempts and logs
    @abstractmethod
    async def attempts(self, job_id: str) -> list[Attempt]: ...

    @abstractmethod
    async def append_logs(
        self,
        job_id: str,
        entries: Sequence[tuple[float, str, str]],
        attempt: int,
        max_bytes: int | None = None,
    ) -> int:
        """Append (time, stream, text) entries, as many as the job's log keeps under
        `max_bytes` (`jobq.loglimit.admit`, in the append's transaction); the seq of the
        last entry stored."""

    @abstractmethod
    async def logs(
        self,
        job_id: str,
        after: int = 0,
        tail: int | None = None,
        limit: int = 10_000,
        max_chars: int | None = None,
    ) -> list[LogEntry]:
        """Up to `limit` entries after seq `after` (the last `tail` of them if given); without
        `tail`, also no more than reach `max_chars` of text (at least one)."""

    # queues and workers
    @abstractmethod
    async def queue_stats(self) -> list[QueueStats]: ...

    async def queue_names(self) -> list[str]:
        """The names of every known queue; stores may answer this more cheaply."""
        return [q.name for q in await self.queue_stats()]

    @abstractmethod
    async def finished_counts(
        self,
        since: float,
        bucket_seconds: float,
        queues: Sequence[str] | None = None,
        top: int | None = None,
    ) -> list[FinishedCount]:
        """Jobs finished at or after `since`, counted per queue, terminal state and bucket
        (bucket n covers since + n * bucket_seconds onwards), with how many had started and
        their waits (run_at to started_at); read from an index only, one range per queue.
        `queues`: only those (None: every known queue). `top`: only the `top` queues that
        finished most in the window keep their name; the others are counted together under
        queue None."""

    @abstractmethod
    async def configure_queue(self, queue: str, change: QueueChange, now: float) -> None:
        """Pause or resume `queue`, or set its flow limits (what `change` names)."""

    @abstractmethod
    async def queue_settings(self, queues: Sequence[str] | None = None) -> dict[str, QueueSettings]:
        """The queues (of `queues`; None: of all) that are paused or limited, by name."""

    @abstractmethod
    async def touch_worker(
        self, worker: Worker, queues: Sequence[str] | None, now: float
    ) -> None: ...

    @abstractmethod
    async def workers(
        self, held: bool = True, queues: Sequence[str] | None = None
    ) -> list[WorkerSeen]:
        """The workers seen; with `held`, the running jobs each holds, of `queues` only (one
        index range per queue) or of every queue (None: a read of every running job). Without
        it every `jobs_held` is 0 and the cost follows the workers."""

    @abstractmethod
    async def forget_workers(self, seen_before: float) -> int:
        """Delete the workers last seen before `seen_before`; how many."""

    # problems (jobq.engine.problems)
    @abstractmethod
    async def type_activity(
        self, since: float, queues: Sequence[str] | None = None
    ) -> list[TypeActivity]:
        """Per queue (of `queues`, None: all) and type that has queued jobs: counts of
        queued and running jobs, the earliest time a queued one became due (max of
        created_at and run_at), and the latest last_heartbeat_at among its live jobs and
        those finished at or after `since` (a job taken since then is one of those: what
        finished earlier cannot have been taken later; reading only them keeps this off the
        finished jobs, most of a table)."""

    @abstractmethod
    async def queued_ids(self, queue: str, type: str | None, limit: int) -> list[str]:
        """The ids of up to `limit` queued jobs of `queue` (and `type`), in the order claims
        take them (priority, then first come)."""

    @abstractmethod
    async def failing_jobs(
        self, min_attempt: int, limit: int, queues: Sequence[str] | None = None
    ) -> list[Job]:
        """Live jobs (scheduled, queued, running) that carry an error from an earlier attempt
        and have reached attempt `min_attempt`, oldest first; of `queues` only (None: all),
        read through the index that leads with the queue (never another queue's jobs)."""

    @abstractmethod
    async def deadlines_before(
        self, at: float, limit: int, queues: Sequence[str] | None = None
    ) -> list[Job]:
        """Live jobs whose deadline_at is set and is at or before `at`, earliest first; of
        `queues` only (None: all), as `failing_jobs`."""

    # callback outbox
    @abstractmethod
    async def due_callbacks(self, now: float, limit: int, lease: float = 60.0) -> list[Callback]:
        """Claim up to `limit` due callbacks: their next_at moves `lease` seconds on, so no
        other round or node sends them while this one does."""

    @abstractmethod
    async def callback_sent(self, callback_id: int) -> None: ...

    @abstractmethod
    async def callback_failed(self, callback_id: int, next_at: float | None, error: str) -> None:
        """Record a failed delivery; next_at None gives up on it."""
