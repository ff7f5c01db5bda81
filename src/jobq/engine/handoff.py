"""Long-polling claims parked in this process, so that new work is claimed for them at once.

A claim that finds no job waits. Woken by a notification, it would claim in a transaction of
its own: two commits in sequence between an enqueue and a waiting worker holding the job (the
pick-up latency). Instead, an enqueue that brings jobs a parked claim wants claims them for it
in the enqueue's own transaction (`Store.insert_and_claim`) and hands them over: one commit.

One parked claim is taken per new queued job it wants, oldest first; a taken claim whose claim
found nothing (another claim of the same transaction got the job first, or the queue is
paused) simply claims again, as a woken one would. A claim of named jobs is never parked.
Parking is per process: with several servers on one PostgreSQL, the other servers' claims are
woken by LISTEN/NOTIFY and claim on their own.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from jobq.entropy import lease_key
from jobq.model import ClaimSpec, Job
from jobq.states import State


@dataclass(eq=False, slots=True)
class Parked:
    spec: ClaimSpec
    lease_key: str
    handed: asyncio.Future[list[Job]]  # what an enqueue claimed for it ([]: claim again)
    taken: bool = False  # an enqueue is claiming for it: it must wait for `handed`
    # spec.queues, to test each enqueue's job in O(1); None: it wants every queue
    queues: frozenset[str] | None = field(init=False)

    def __post_init__(self) -> None:
        self.queues = None if self.spec.queues is None else frozenset(self.spec.queues)

    def wake(self) -> None:
        """Stop waiting to be handed jobs and claim again (unless an enqueue is claiming for
        this claim: then its jobs are on their way)."""
        if not self.taken and not self.handed.done():
            self.handed.set_result([])

    def wants(self, queue: str, kind: str) -> bool:
        known = self.queues is None or queue in self.queues
        return known and (self.spec.types is None or kind in self.spec.types)


class Parking:
    def __init__(self) -> None:
        self._waiting: list[Parked] = []  # oldest first

    def __len__(self) -> int:
        return len(self._waiting)

    @contextmanager
    def park(self, spec: ClaimSpec) -> Iterator[Parked]:
        """Park `spec` for as long as the block runs (unless an enqueue takes it first)."""
        loop = asyncio.get_running_loop()
        parked = Parked(spec, lease_key(), loop.create_future())
        self._waiting.append(parked)
        try:
            yield parked
        finally:
            if not parked.taken:
                self._waiting.remove(parked)

    def take(self, jobs: Sequence[Job]) -> list[Parked]:
        """The parked claims that will claim `jobs`: for each (queue, type), at most as many
        as there are new queued jobs of it, oldest first; no longer parked."""
        if not self._waiting:
            return []
        wanted = Counter((job.queue, job.type) for job in jobs if job.state is State.queued)
        taken: list[Parked] = []
        for (queue, kind), count in wanted.items():
            for parked in self._waiting:
                if count == 0:
                    break
                if not parked.taken and not parked.handed.done() and parked.wants(queue, kind):
                    parked.taken = True
                    taken.append(parked)
                    count -= 1
        if taken:
            self._waiting = [p for p in self._waiting if not p.taken]
        return taken
