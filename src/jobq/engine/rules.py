"""The engine's decisions, as pure functions of a job and the time.

Each returns the Plan a store applies atomically, or raises Conflict. Keeping them pure makes
the rules testable without a database and identical on every store.
"""

from __future__ import annotations

import math
import random
from typing import Any, Protocol

from jobq.errors import Conflict, InvalidInput
from jobq.model import Job, Plan
from jobq.states import TERMINAL, WAITING, Event, State

MAX_LEASE_SECONDS = 7 * 86400.0  # the longest lease any interface may ask for
MAX_SNOOZE_SECONDS = 365 * 86400.0  # the longest a worker may snooze a job for (a year)


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: base * 2**(attempt-1), capped, then scaled by a random
    factor in [0.5, 1.0] so that jobs failing together do not retry together."""
    exponent = min(max(attempt - 1, 0), 62)
    ceiling = min(cap, base * 2.0**exponent)
    return ceiling * (0.5 + 0.5 * (rng or random).random())


def finished(now: float, job: Job, **changes: Any) -> dict[str, Any]:
    """The fields every terminal transition sets."""
    purge_at = None if job.result_ttl is None else now + job.result_ttl
    return {
        "finished_at": now,
        "purge_at": purge_at,
        "lease_token": None,
        "lease_expires_at": None,
        **changes,
    }


def complete(job: Job, result: Any, now: float) -> Plan:
    return Plan(
        Event.complete,
        finished(now, job, result=result, progress=_final_progress(job)),
        attempt_outcome="succeeded",
        callback=True,
    )


def fail(
    job: Job,
    error: dict[str, Any],
    retryable: bool,
    exit_code: int | None,
    now: float,
    rng: random.Random | None = None,
) -> Plan:
    """A failed attempt: cancelled if a cancel was requested, retried later if attempts and
    the deadline allow, failed otherwise."""
    if job.cancel_requested:
        reason = job.cancel_reason or {}
        return cancelled_while_running(job, now, reason, exit_code)
    if retryable and job.attempt < job.max_attempts:
        run_at = now + backoff_delay(job.attempt, job.backoff_base, job.backoff_max, rng)
        if job.deadline_at is None or run_at < job.deadline_at:
            return Plan(
                Event.backoff,
                {
                    "run_at": run_at,
                    "error": error,
                    "exit_code": exit_code,
                    "lease_token": None,
                    "lease_expires_at": None,
                },
                attempt_outcome="failed",
                attempt_error=error,
            )
    return Plan(
        Event.fail,
        finished(now, job, error=error, exit_code=exit_code),
        attempt_outcome="failed",
        attempt_error=error,
        callback=True,
    )


def cancelled_while_running(
    job: Job, now: float, reason: dict[str, Any], exit_code: int | None = None
) -> Plan:
    error = {
        "code": "cancelled",
        "message": reason.get("reason") or "cancelled",
        "details": reason.get("details"),
    }
    return Plan(
        Event.cancel_confirm,
        finished(now, job, error=error, exit_code=exit_code),
        attempt_outcome="cancelled",
        attempt_error=error,
        callback=True,
    )


def cancel(job: Job, reason: str | None, details: Any, now: float, immediate: bool = False) -> Plan:
    """Cancel at once if waiting; ask the worker to stop if running, or with `immediate`
    cancel it at once too (its lease is revoked: the worker's later reports are refused)."""
    why = {"reason": reason, "details": details, "requested_at": now}
    if job.state in WAITING:
        error = {"code": "cancelled", "message": reason or "cancelled", "details": details}
        return Plan(Event.cancel, finished(now, job, error=error, cancel_reason=why), callback=True)
    if job.state == State.running and immediate:
        plan = cancelled_while_running(job, now, why)
        plan.changes["cancel_reason"] = why
        return plan
    if job.state == State.running:
        if job.cancel_requested:
            return Plan(Event.cancel_request, {})
        return Plan(Event.cancel_request, {"cancel_requested": True, "cancel_reason": why})
    raise Conflict(f"the job is already {job.state}", state=str(job.state), id=job.id)


def heartbeat(job: Job, now: float, progress: dict[str, Any] | None) -> Plan:
    changes: dict[str, Any] = {
        "last_heartbeat_at": now,
        "lease_expires_at": now + job.lease_seconds,
    }
    if progress is not None:
        changes["progress"] = progress
    return Plan(Event.heartbeat, changes)


def release(job: Job) -> Plan:
    """The worker hands the job back unrun: queued again, the attempt not counted."""
    return Plan(
        Event.release,
        {
            "attempt": max(job.attempt - 1, 0),
            "lease_token": None,
            "lease_expires_at": None,
            "cancel_requested": False,
        },
        attempt_outcome="released",
    )


def snooze(job: Job, now: float, seconds: float) -> Plan:
    """The worker hands the job back to run `seconds` from now (a third party said "retry
    after"): scheduled then (queued at once for 0), the attempt not counted, as a release.
    A cancel requested meanwhile is confirmed instead; a snooze that would end at or past the
    job's deadline fails the job now, as a backoff past it does."""
    if job.cancel_requested:
        return cancelled_while_running(job, now, job.cancel_reason or {})
    run_at = now + seconds
    if job.deadline_at is not None and run_at >= job.deadline_at:
        error = {
            "code": "deadline_exceeded",
            "message": f"snoozed for {seconds:g}s, past the job's deadline",
            "details": {"deadline_seconds": job.deadline_seconds, "snooze_seconds": seconds},
        }
        return Plan(
            Event.fail,
            finished(now, job, error=error),
            attempt_outcome="failed",
            attempt_error=error,
            callback=True,
        )
    return Plan(
        Event.snooze if seconds > 0 else Event.snooze_now,
        {
            "run_at": run_at,
            "attempt": max(job.attempt - 1, 0),
            "lease_token": None,
            "lease_expires_at": None,
        },
        attempt_outcome="snoozed",
    )


def check_snooze(seconds: float) -> None:
    """Refuse a snooze that is not finite, below 0 or over MAX_SNOOZE_SECONDS."""
    if not (math.isfinite(seconds) and 0.0 <= seconds <= MAX_SNOOZE_SECONDS):
        raise InvalidInput(
            f"a snooze is at least 0 and at most {MAX_SNOOZE_SECONDS:.0f} seconds (a year)",
            field="seconds",
            value=seconds if math.isfinite(seconds) else str(seconds),
            max=MAX_SNOOZE_SECONDS,
        )


def check_snooze_ack(seconds: float, result: Any, error: dict[str, Any] | None) -> None:
    """A snooze in an acknowledgement: valid seconds, and neither a result nor an error."""
    check_snooze(seconds)
    if result is not None or error is not None:
        raise InvalidInput("a snooze carries no result or error", field="snooze")


def overdue(job: Job, now: float) -> Plan:
    """A running job whose deadline or lease has passed, or a waiting one whose deadline
    (counted from enqueue) has."""
    if job.deadline_at is not None and now >= job.deadline_at:
        error = {
            "code": "deadline_exceeded",
            "message": "the job ran past its deadline",
            "details": {"deadline_seconds": job.deadline_seconds},
        }
        if job.state in WAITING:  # no attempt is open
            return Plan(Event.expire_waiting, finished(now, job, error=error), callback=True)
        return Plan(
            Event.expire_fail,
            finished(now, job, error=error),
            attempt_outcome="expired",
            attempt_error=error,
            callback=True,
        )
    if job.lease_expires_at is None or now < job.lease_expires_at:
        raise Conflict("the lease has not expired", state=str(job.state), id=job.id)
    if job.cancel_requested:
        return cancelled_while_running(job, now, job.cancel_reason or {})
    error = {
        "code": "lease_expired",
        "message": "the worker stopped heartbeating",
        "details": {"worker": job.worker.name if job.worker else None},
    }
    if job.attempt >= job.max_attempts:
        return Plan(
            Event.expire_fail,
            finished(now, job, error=error),
            attempt_outcome="expired",
            attempt_error=error,
            callback=True,
        )
    return Plan(
        Event.expire,
        {"lease_token": None, "lease_expires_at": None, "error": error},
        attempt_outcome="expired",
        attempt_error=error,
    )


def due(job: Job, now: float) -> Plan:
    if job.run_at > now:
        raise Conflict("not due yet", state=str(job.state), id=job.id)
    return Plan(Event.due, {})


def run_now(job: Job, now: float) -> Plan:
    """A scheduled job (a later run_at, or a retry's backoff) is queued now: its run_at
    becomes now, so its wait is counted from the moment it was asked to run."""
    if job.state != State.scheduled:
        raise Conflict(
            f"only a scheduled job can be run now; this one is {job.state}",
            state=str(job.state),
            id=job.id,
        )
    return Plan(Event.due, {"run_at": now})


def update(
    job: Job,
    now: float,
    priority: int | None = None,
    run_at: float | None = None,
    metadata: dict[str, str] | None = None,
) -> Plan:
    """Change a waiting job; moving run_at moves it between scheduled and queued."""
    if job.state not in WAITING:
        raise Conflict(f"a {job.state} job cannot be changed", state=str(job.state), id=job.id)
    changes: dict[str, Any] = {}
    if priority is not None:
        changes["priority"] = priority
    if metadata is not None:
        changes["metadata"] = metadata
    event = Event.update
    if run_at is not None:
        changes["run_at"] = run_at
        if job.state == State.queued and run_at > now:
            event = Event.reschedule
        elif job.state == State.scheduled and run_at <= now:
            event = Event.due
    return Plan(event, changes)


def reprioritise(job: Job, now: float, priority: int) -> Plan:
    """Set the priority of a job that has not finished: waiting, it moves in its queue;
    running, it orders the job's later attempts (Vidispine changes a running job's priority)."""
    if job.state == State.running:
        return Plan(Event.reprioritise, {"priority": priority})
    return update(job, now, priority=priority)


def retryable_source(job: Job) -> None:
    """Only a finished job can be retried (into a new job)."""
    if job.state not in TERMINAL:
        raise Conflict(
            f"only a finished job can be retried; this one is {job.state}",
            state=str(job.state),
            id=job.id,
        )


def retried_already(job_id: str, retry_id: str, state: State | None = None) -> Conflict:
    """The answer to a second retry of a job (in `state`): its retry is `retry_id` (a job
    has one)."""
    details = {"id": job_id, "retried_by": retry_id}
    if state is not None:
        details["state"] = str(state)
    return Conflict(f"job {job_id} was already retried: its retry is {retry_id}", **details)


def check_lease(seconds: float | None, field: str = "lease_seconds") -> None:
    """Refuse a lease that is not above 0 and at most MAX_LEASE_SECONDS (every interface's
    bound: a claim's lease and a job's default lease alike)."""
    if seconds is not None and not 0.0 < seconds <= MAX_LEASE_SECONDS:
        raise InvalidInput(
            f"a lease is above 0 and at most {MAX_LEASE_SECONDS:.0f} seconds (7 days)",
            field=field,
            value=seconds,
            max=MAX_LEASE_SECONDS,
        )


def validate_progress(progress: dict[str, Any] | None) -> None:
    if progress is None:
        return
    step, total = progress.get("step"), progress.get("total")
    if step is not None and total is not None and total >= 0 and step > total:
        raise InvalidInput("progress step is past its total", step=step, total=total)


def _final_progress(job: Job) -> dict[str, Any] | None:
    if job.progress and job.progress.get("total") is not None:
        return {**job.progress, "step": job.progress["total"]}
    return job.progress


class Reporter(Protocol):
    """Who reports on a job without presenting its lease token (jobq.auth's Principal)."""

    @property
    def user(self) -> str | None: ...

    @property
    def admin(self) -> bool: ...


def may_report(job: Job, by: Reporter) -> bool:
    """Whether `by` may report on `job` without its lease token: only the user whose claim
    took the job (recorded in its `worker`), or an administrator. Any other user with the
    worker role would otherwise finish a job another worker holds."""
    holder = job.worker.user if job.worker is not None else None
    return by.admin or (holder is not None and holder == by.user)
