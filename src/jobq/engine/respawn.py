"""Respawn: a job that fails for good may run again as a NEW job.

Attempts within one job (`max_attempts`, backoff) are jobq's own retry policy. Some producers
want the other kind, where every try is its own job with its own id (Titan's `max_retries`):
the failed job stays failed, and a new job, linked by `retry_of` / `retried_by`, runs after a
delay. A job asks for that through two metadata keys the engine understands:

    jobq.respawn.remaining   how many more jobs may be spawned (an integer, 0 = none)
    jobq.respawn.delay       seconds the spawned job waits before it is queued

Both are reserved keys (`jobq.reserved`): checked at intake, read totally.

When such a job reaches `failed` (its worker failed it, or its lease or deadline ran out with
nothing left to try) and `remaining` > 0, the plan that fails it also carries the new job, with
`remaining - 1`; the store inserts it in the same transaction, so a failure is never recorded
without its respawn. Cancelled and succeeded jobs never respawn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from jobq import reserved
from jobq.engine.specs import JobSpec
from jobq.errors import Conflict
from jobq.model import DEFAULTS, Job, Moved, Plan, StepResult, new_id
from jobq.states import Event, State

REMAINING = reserved.RESPAWN_REMAINING
DELAY = reserved.RESPAWN_DELAY
FINAL_FAILURES = frozenset({Event.fail, Event.expire_fail})


def policy(remaining: int, delay: float) -> dict[str, str]:
    """The metadata that asks for `remaining` respawns, each `delay` seconds after a failure."""
    return {REMAINING: str(remaining), DELAY: f"{delay:g}"}


def remaining(job: Job) -> int:
    """How many more respawns `job` asks for (0 for a value that cannot be used)."""
    return int(reserved.read(job.metadata, REMAINING, 0))


def delay(job: Job) -> float:
    """Seconds a respawn waits: finite and bounded, whatever the job's metadata holds."""
    return float(reserved.read(job.metadata, DELAY, 0.0))


def spawn(job: Job, now: float) -> Job | None:
    """The job that runs `job` again, or None when its policy has no respawn left."""
    left = remaining(job)
    if left <= 0:
        return None
    metadata = {**job.metadata, REMAINING: str(left - 1)}
    spec = JobSpec.from_job(job, metadata=metadata, delay=delay(job), retry_of=job.id)
    return spec.job(new_id(now), now, DEFAULTS)  # (its settings are all `job`'s: none defaults)


def with_respawn(plan: Plan, job: Job, now: float) -> Plan:
    """`plan`, carrying the respawned job when it fails `job` for good."""
    if plan.event not in FINAL_FAILURES:
        return plan
    child = spawn(job, now)
    if child is None:
        return plan
    return replace(plan, changes={**plan.changes, "retried_by": child.id}, spawn=child)


def wrap(
    decide: Callable[[Job], Plan], now: float, spawned: dict[str, Job]
) -> Callable[[Job], Plan]:
    """`decide`, with respawns added; each spawned job is noted in `spawned` by parent id."""

    def decide_and_respawn(job: Job) -> Plan:
        plan = with_respawn(decide(job), job, now)
        if plan.spawn is not None:
            spawned[job.id] = plan.spawn
        return plan

    return decide_and_respawn


def spawned_moves(results: Sequence[StepResult], spawned: dict[str, Job]) -> list[Moved]:
    """The spawned jobs whose parents' transitions were applied, as new arrivals."""
    out = []
    for result in results:
        if not isinstance(result, Moved):
            continue
        child = spawned.get(result.job.id)
        if child is not None and result.job.retried_by == child.id:
            out.append(Moved(child, None))
    return out


def check_manual_retry(job: Job) -> None:
    """A failed job that respawned already has its next run; a manual retry would double it."""
    if job.state == State.failed and remaining(job) > 0:
        raise Conflict(
            "this failed job was retried automatically; retry its latest respawn instead",
            state=str(job.state),
            id=job.id,
            retried_by=job.retried_by,
        )
