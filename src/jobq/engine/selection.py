"""What a bulk operation acts on: its action, its filter (`Selection`) and the order in which
it walks the jobs (`lanes`). Pure functions of data.

An operation walks *lanes*: one per (queue, state) it may act on, each read in seq order
through the index that leads with them (`jobs_queue_state (queue, state, seq)`; an
administrator's operation without a queue filter walks `jobs_state (state, seq)` per state).
Each page of a lane is at most a batch of jobs read by key, and the filter's other terms
(type, metadata, times, not yet retried) are applied to that page here: a page never reads
more than a batch, however few jobs match, and an operation reads only its caller's queues,
never another tenant's jobs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from jobq import fields
from jobq.errors import InvalidInput
from jobq.model import Job, JobQuery
from jobq.states import TERMINAL, WAITING, State

STATE_ORDER = tuple(State)  # lanes of one queue in this order
# action -> the states of the jobs it acts on
ACTIONS: dict[str, frozenset[State]] = {
    "retry": TERMINAL,  # a new job for each finished one not yet retried
    "cancel": WAITING | {State.running},  # waiting: cancelled; running: asked to stop
    "delete": TERMINAL,
    "purge": WAITING,  # a queue's waiting jobs, deleted (they will not run)
    "drop_queue": WAITING | TERMINAL,  # every job of a queue that is not running, then the queue
}
# what a filter without states acts on: a retry takes the failed jobs (the dead set; others
# it retries only when asked for by state), the other actions every state they act on
DEFAULT_STATES: dict[str, frozenset[State]] = {**ACTIONS, "retry": frozenset({State.failed})}
TIMES = tuple(
    f"{moment}_{side}"
    for moment in ("created", "started", "finished")
    for side in ("after", "before")
)


@dataclass(slots=True)
class Selection:
    """Which jobs: every term given must hold (a list term: any of its values)."""

    queues: list[str] | None = None
    types: list[str] | None = None
    states: list[State] | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    created_after: float | None = None
    created_before: float | None = None
    started_after: float | None = None
    started_before: float | None = None
    finished_after: float | None = None
    finished_before: float | None = None

    def check(self, action: str) -> None:
        """Refuse an unknown action, a state the action never touches, or bad text."""
        if action not in ACTIONS:
            raise InvalidInput(f"unknown action {action!r}", action=action, allowed=list(ACTIONS))
        fields.metadata(self.metadata, "metadata")
        wrong = [str(s) for s in self.states or () if s not in ACTIONS[action]]
        if wrong:
            allowed = [str(s) for s in STATE_ORDER if s in ACTIONS[action]]
            raise InvalidInput(
                f"{action} acts on jobs in states {', '.join(allowed)}, not {', '.join(wrong)}",
                state=wrong,
                allowed=allowed,
            )

    def as_json(self) -> dict[str, Any]:
        """The terms given, as JSON (what an operation keeps)."""
        return {k: v for k, v in asdict(self).items() if v not in (None, {}, [])}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Selection:
        selection = cls(**data)
        if selection.states is not None:
            selection.states = [State(s) for s in selection.states]
        return selection

    def matches(self, job: Job) -> bool:
        """Whether `job` meets the terms a lane does not (type, metadata, times)."""
        if self.types is not None and job.type not in self.types:
            return False
        if any(job.metadata.get(k) != v for k, v in self.metadata.items()):
            return False
        for name in TIMES:
            bound = getattr(self, name)
            if bound is None:
                continue
            value = getattr(job, name.rsplit("_", 1)[0] + "_at")
            if value is None or (value < bound if name.endswith("after") else value >= bound):
                return False
        return True

    def query(self, action: str, queues: list[str] | None) -> JobQuery:
        """The listing of the jobs `action` would act on among `queues` (None: every
        queue), for counting them."""
        return JobQuery(
            queues=sorted({q for q, _ in lanes(action, self, queues) if q is not None})
            if queues is not None or self.queues is not None
            else None,
            types=self.types,
            states=states_of(action, self),
            metadata=dict(self.metadata),
            retried=False if action == "retry" else None,
            **{name: getattr(self, name) for name in TIMES},
        )


def states_of(action: str, selection: Selection) -> list[State]:
    """The states `action` acts on that the selection asks for, in STATE_ORDER."""
    asked = set(selection.states) if selection.states else DEFAULT_STATES[action]
    return [s for s in STATE_ORDER if s in asked and s in ACTIONS[action]]


def acts_on(action: str, job: Job) -> bool:
    """Whether `action` still has something to do to `job` (a retry: not retried yet)."""
    return job.state in ACTIONS[action] and (action != "retry" or job.retried_by is None)


def lanes(
    action: str, selection: Selection, queues: list[str] | None
) -> list[tuple[str | None, State]]:
    """The (queue, state) lanes an operation walks, in order: the queues it may act on
    (`queues`; None: every queue, as one lane per state) that the selection names."""
    states = states_of(action, selection)
    if queues is None and selection.queues is None:
        return [(None, s) for s in states]
    names = selection.queues if queues is None else queues
    if queues is not None and selection.queues is not None:
        names = [q for q in selection.queues if q in set(queues)]
    return [(q, s) for q in sorted(set(names or ())) for s in states]
