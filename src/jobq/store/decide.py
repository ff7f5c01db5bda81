"""Deciding a step on a job's row as it is, before anything is written.

Both stores read the rows a batch of steps touches once (SQLite inside its single writer,
PostgreSQL under FOR UPDATE), decide every step here, and then write the decisions grouped:
rows that change the same columns from the same allowed states go out as one statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from jobq.errors import Conflict, JobqError, NotFound, StaleLease
from jobq.model import Job, Moved, Plan, Step, StepResult, evolve
from jobq.states import State, sources, target


class Decided(NamedTuple):
    moved: Moved
    plan: Plan
    changes: dict[str, Any]  # the columns to set, state and updated_at included
    attempt: int  # the attempt the plan may close

    @property
    def shape(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(the columns it sets, the states it may move from): decisions of one shape are
        written by one statement."""
        allowed = tuple(sorted(str(s) for s in sources(self.plan.event)))
        return tuple(self.changes), allowed


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
    moved = Moved(evolve(job, changes), job.state, plan.event)
    return Decided(moved, plan, changes, job.attempt)


def decide_all(
    steps: Sequence[Step], jobs: dict[str, Job], now: float
) -> tuple[list[StepResult], list[list[Decided]]]:
    """Each step's result, in order, each deciding on the job as the steps before it left it
    (`jobs`, by id, is updated); and the decisions to write, in rounds: a job moved twice
    starts a new round, so its writes keep their order."""
    results: list[StepResult] = []
    rounds: list[list[Decided]] = [[]]
    in_round: set[str] = set()
    for step in steps:
        try:
            decided = decide(jobs.get(step.job_id), step, now)
        except JobqError as exc:
            results.append(exc)
            continue
        job = decided.moved.job
        if job.id in in_round:
            rounds.append([])
            in_round.clear()
        rounds[-1].append(decided)
        in_round.add(job.id)
        jobs[job.id] = job
        results.append(decided.moved)
    return results, rounds
