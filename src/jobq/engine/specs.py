"""What interfaces hand the engine: a job as its producer asks for it and a worker's outcome
(the defaults a job gets where its producer says nothing are `jobq.model.Defaults`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jobq.model import Defaults, Job
from jobq.states import State


@dataclass(slots=True)
class JobSpec:
    """A job as a producer asks for it; None means the default."""

    queue: str = "default"
    type: str = "default"
    payload: Any = None
    metadata: dict[str, str] = field(default_factory=dict)
    priority: int = 0
    run_at: float | None = None
    delay: float | None = None
    lease_seconds: float | None = None
    deadline_seconds: float | None = None
    deadline_from_enqueue: bool = False  # the deadline counts from now, not the first claim
    max_attempts: int | None = None
    backoff_base: float | None = None
    backoff_max: float | None = None
    result_ttl: float | None = None
    keep_forever: bool = False
    callback_url: str | None = None
    unique_key: str | None = None
    concurrency_key: str | None = None
    owner: str | None = None
    retry_of: str | None = None

    @classmethod
    def from_job(cls, job: Job, **changes: Any) -> JobSpec:
        """A new run of `job`: its work and every setting it was given (not its unique key,
        its times or its outcome), then `changes`. A retry, a respawn and Vidispine's
        duplicate all start here, so a new job field is carried over in one place."""
        spec = cls(
            queue=job.queue,
            type=job.type,
            payload=job.payload,
            metadata=dict(job.metadata),
            priority=job.priority,
            lease_seconds=job.lease_seconds,
            deadline_seconds=job.deadline_seconds,
            max_attempts=job.max_attempts,
            backoff_base=job.backoff_base,
            backoff_max=job.backoff_max,
            result_ttl=job.result_ttl,
            keep_forever=job.result_ttl is None,
            callback_url=job.callback_url,
            owner=job.owner,
            concurrency_key=job.concurrency_key,
        )
        for name, value in changes.items():
            setattr(spec, name, value)
        return spec

    def job(self, job_id: str, now: float, defaults: Defaults) -> Job:
        """The job this spec makes at `now`, what it leaves unsaid from `defaults` (unchecked:
        the engine checks a producer's spec first)."""
        run_at = self.run_at if self.run_at is not None else now + (self.delay or 0.0)
        result_ttl = None if self.keep_forever else _pick(self.result_ttl, defaults.result_ttl)
        return Job(
            id=job_id,
            queue=self.queue,
            type=self.type,
            payload=self.payload,
            metadata=dict(self.metadata),
            priority=self.priority,
            state=State.scheduled if run_at > now else State.queued,
            run_at=run_at,
            lease_seconds=_pick(self.lease_seconds, defaults.lease_seconds),
            deadline_seconds=self.deadline_seconds,
            deadline_at=self._deadline_at(now),
            max_attempts=_pick(self.max_attempts, defaults.max_attempts),
            backoff_base=_pick(self.backoff_base, defaults.backoff_base),
            backoff_max=_pick(self.backoff_max, defaults.backoff_max),
            result_ttl=result_ttl,
            callback_url=self.callback_url,
            owner=self.owner,
            created_at=now,
            updated_at=now,
            retry_of=self.retry_of,
            unique_key=self.unique_key,
            concurrency_key=self.concurrency_key,
        )

    def _deadline_at(self, now: float) -> float | None:
        """A deadline counted from enqueue is fixed now; one counted from the first claim is
        set by the claim (None until then)."""
        if self.deadline_from_enqueue and self.deadline_seconds is not None:
            return now + self.deadline_seconds
        return None


def _pick(value: Any, default: Any) -> Any:
    return default if value is None else value


@dataclass(slots=True)
class Ack:
    """One outcome in a batch acknowledgement: a result, or an error when `error` is set, or
    a snooze of `snooze` seconds when that is set (see `rules.snooze`)."""

    job_id: str
    token: str
    result: Any = None
    error: dict[str, Any] | None = None
    retryable: bool = True
    exit_code: int | None = None
    snooze: float | None = None
