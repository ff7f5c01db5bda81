"""Deciding a step on a job's row as it is, before anything is written.

Both stores read the rows a batch of steps touches once (SQLite inside its single writer,
PostgreSQL under FOR UPDATE), decide every step here, and then write the decisions grouped:
rows that change the same columns from the same allowed states go out as one statement.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from jobq.errors import Conflict, NotFound, StaleLease
from jobq.model import Job, Moved, Plan, Step, evolve
from jobq.states import State, target


class Decided(NamedTuple):
    moved: Moved
    plan: Plan
    changes: dict[str, Any]  # the columns to set, state and updated_at included
    attempt: int  # the attempt the plan may close


def decide(job: Job | None, step: Step, now: float) -> Decided:
    """What `step` does to `job`; NotFound, StaleLease or Conflict if it may not."""
    if job is None:
        raise NotFound("job not found", id=step.job_id)
    if step.token is not None and (job.state != State.running or job.lease_token != step.token):
        raise StaleLease(state=str(job.state), id=job.id)
    plan = step.decide(job)
    try:
        new_state = target(plan.event, job.state)
    except ValueError as exc:
        raise Conflict(str(exc), state=str(job.state), id=job.id) from None
    changes = {**plan.changes, "state": new_state, "updated_at": now}
    return Decided(Moved(evolve(job, changes), job.state), plan, changes, job.attempt)
