"""Which workers a store recorded as seen lately, so a busy worker's claims skip the write.

A claim records its worker (name, host, pid, queues, last seen) for the workers list and the
problem finder, whose resolution is seconds. Writing that row on every claim would add a
statement to every claim, so it is written only when the worker is new to this process, asks
for other queues, or was last written `every` seconds ago or more. Noted only after the
claim's commit, so a rolled-back claim never leaves a worker unrecorded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from jobq.model import ClaimSpec, Worker

T = TypeVar("T")
TOUCH_EVERY = 1.0  # seconds
MAX_WORKERS = 10_000  # beyond this many, forget them all (they are written again, no harm)


class SeenWorkers:
    def __init__(self, every: float = TOUCH_EVERY) -> None:
        self.every = every
        self._seen: dict[tuple[str, str, int], tuple[tuple[str, ...] | None, float]] = {}

    def due(self, worker: Worker, queues: Sequence[str] | None, now: float) -> bool:
        """Whether a claim by `worker` of `queues` (None: every queue) at `now` should write
        its row."""
        seen = self._seen.get(_key(worker))
        return seen is None or seen[0] != _names(queues) or not 0 <= now - seen[1] < self.every

    def noted(self, worker: Worker, queues: Sequence[str] | None, now: float) -> None:
        """The row of `worker` was written (and committed) at `now`."""
        if len(self._seen) >= MAX_WORKERS:
            self._seen.clear()
        self._seen[_key(worker)] = (_names(queues), now)


async def recording(
    seen: SeenWorkers,
    claims: Sequence[ClaimSpec],
    now: float,
    write: Callable[[list[bool]], Awaitable[T]],
) -> T:
    """`write(touches)`: a store's write holding `claims`, told for each whether it records
    its worker; the workers it recorded are noted once it has committed."""
    touches = [seen.due(spec.worker, spec.queues, now) for spec in claims]
    done = await write(touches)
    for spec, touch in zip(claims, touches, strict=True):
        if touch:
            seen.noted(spec.worker, spec.queues, now)
    return done


def _names(queues: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if queues is None else tuple(queues)


def _key(worker: Worker) -> tuple[str, str, int]:
    return (worker.name, worker.host or "", worker.pid or 0)
