"""The job state machine: every transition jobq allows, in one table.

Each store enforces exactly this table: a transition is applied with a compare-and-set on the
job's current state (and lease token where one is held), so two racing requests can never both
move the same job.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    scheduled = "scheduled"
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


class Event(StrEnum):
    due = "due"  # run_at reached
    claim = "claim"  # a worker takes the job and gets a lease
    complete = "complete"  # the worker reports success
    fail = "fail"  # the worker reports an error, no attempts left
    backoff = "backoff"  # the worker reports an error, attempts left: try again later
    release = "release"  # the worker hands the job back unrun (graceful shutdown)
    snooze = "snooze"  # the worker hands the job back to run later, the attempt not counted
    snooze_now = "snooze_now"  # a snooze of 0 seconds: queued again at once, not counted
    expire = "expire"  # the lease ran out: back to the queue
    expire_fail = "expire_fail"  # the lease or the deadline ran out, nothing left to try
    expire_waiting = "expire_waiting"  # the deadline ran out before anyone took the job
    cancel = "cancel"  # cancelled before it ran
    cancel_request = "cancel_request"  # running: the worker is asked to stop
    cancel_confirm = "cancel_confirm"  # the worker stopped, or its lease ran out after a request
    update = "update"  # priority, run_at or metadata changed while waiting
    reschedule = "reschedule"  # run_at moved into the future while queued
    reprioritise = "reprioritise"  # priority changed while running (it orders later attempts)
    heartbeat = "heartbeat"  # the worker is alive: lease extended, progress recorded


TERMINAL: frozenset[State] = frozenset({State.succeeded, State.failed, State.cancelled})
WAITING: frozenset[State] = frozenset({State.scheduled, State.queued})
LIVE: frozenset[State] = frozenset({State.scheduled, State.queued, State.running})

S = State
TRANSITIONS: dict[Event, tuple[frozenset[State], State | None]] = {
    # event: (states it may start from, state it ends in; None = stays where it is)
    Event.due: (frozenset({S.scheduled}), S.queued),
    Event.claim: (frozenset({S.queued}), S.running),
    Event.complete: (frozenset({S.running}), S.succeeded),
    Event.fail: (frozenset({S.running}), S.failed),
    Event.backoff: (frozenset({S.running}), S.scheduled),
    Event.release: (frozenset({S.running}), S.queued),
    Event.snooze: (frozenset({S.running}), S.scheduled),
    Event.snooze_now: (frozenset({S.running}), S.queued),
    Event.expire: (frozenset({S.running}), S.queued),
    Event.expire_fail: (frozenset({S.running}), S.failed),
    Event.expire_waiting: (frozenset({S.scheduled, S.queued}), S.failed),
    Event.cancel: (frozenset({S.scheduled, S.queued}), S.cancelled),
    Event.cancel_request: (frozenset({S.running}), S.running),
    Event.cancel_confirm: (frozenset({S.running}), S.cancelled),
    Event.update: (frozenset({S.scheduled, S.queued}), None),
    Event.reschedule: (frozenset({S.queued}), S.scheduled),
    Event.reprioritise: (frozenset({S.running}), None),
    Event.heartbeat: (frozenset({S.running}), None),
}


def sources(event: Event) -> frozenset[State]:
    """The states from which `event` may be applied."""
    return TRANSITIONS[event][0]


def target(event: Event, current: State) -> State:
    """The state a job in `current` reaches through `event` (ValueError if not allowed)."""
    allowed, to = TRANSITIONS[event]
    if current not in allowed:
        raise ValueError(f"{event.value} is not allowed from {current.value}")
    return current if to is None else to
