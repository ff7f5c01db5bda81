"""Which enqueue-and-claims (jobq.engine.handoff) a store may answer as a hand-over: the new job
inserted already leased to the claim, in one statement, when the claim would have chosen it
(postgres_handover, sqlite_handover)."""

from __future__ import annotations

from collections.abc import Sequence

from jobq.model import ClaimSpec, Job
from jobq.states import State


def can_hand_over(jobs: Sequence[Job], claims: Sequence[tuple[ClaimSpec, str]]) -> bool:
    """Whether this enqueue-and-claim is the one-statement case: one plain queued job, one
    claim of the usual kind (of listed queues: a claim of every queue is served by its own
    claim statement after the insert, in the same transaction)."""
    if len(jobs) != 1 or len(claims) != 1:
        return False
    job, (spec, _) = jobs[0], claims[0]
    return (
        job.unique_key is None
        and job.retry_of is None
        and spec.ids is None
        and spec.queues is not None
        and spec.limit >= 1
        and job.state is State.queued
    )
