"""Queue counts and throughput cheap to poll from many open pages, and when a worker is live.

The counts per state come from one shared `queue_stats()` taken at most every max(2 s, 10 x
its last cost), however many pages poll (with 1,000,000 jobs on SQLite that scan costs about
half a second: docs/design.md); the paused flags are read fresh each time, so pause and
resume show at once.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from jobq.model import FinishedCount, QueueLimits, QueueStats, WorkerSeen
from jobq.store.base import Store


@dataclass(slots=True, frozen=True)
class QueueSnapshot:
    """Every queue's counts as of `as_of` (wall clock), and which queues are paused now."""

    as_of: float
    queues: list[QueueStats]
    paused: set[str]
    limits: dict[str, QueueLimits] = field(default_factory=dict)  # the limited queues'


@dataclass(slots=True)
class QueueStatsCache:
    """One queue_stats() shared by every poller; refreshed once it is older than
    max(min_age, cost_factor x what the last one cost)."""

    min_age: float = 2.0
    cost_factor: float = 10.0
    stats: list[QueueStats] = field(default_factory=list)
    taken_at: float = 0.0  # wall clock, for the answer's as_of
    fresh_until: float = 0.0  # monotonic
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def get(self, store: Store) -> tuple[list[QueueStats], float]:
        """The counts, and when they were taken (wall clock)."""
        async with self.lock:  # one scan at a time; the others wait and share it
            if time.monotonic() >= self.fresh_until:
                started = time.monotonic()
                self.stats = await store.queue_stats()
                cost = time.monotonic() - started
                self.taken_at = time.time()
                self.fresh_until = time.monotonic() + max(self.min_age, self.cost_factor * cost)
            return self.stats, self.taken_at


ThroughputKey = tuple[float, float, tuple[str, ...] | None, int]  # since, bucket, queues, top


@dataclass(slots=True)
class ThroughputCache:
    """Finished counts shared by the pollers that ask the same question (the same range,
    buckets and queues): each answer is kept for max(min_age, cost_factor x what it cost),
    so a week's chart open in many tabs costs the store a read now and then, not one per
    poll. At most `size` answers are kept; concurrent askers of one question share one read."""

    min_age: float = 2.0
    cost_factor: float = 10.0
    size: int = 64
    answers: dict[ThroughputKey, tuple[float, list[FinishedCount]]] = field(default_factory=dict)
    reading: dict[ThroughputKey, asyncio.Future[list[FinishedCount]]] = field(default_factory=dict)

    async def get(
        self, store: Store, since: float, bucket: float, queues: list[str] | None, top: int
    ) -> list[FinishedCount]:
        key = (since, bucket, None if queues is None else tuple(queues), top)
        kept = self.answers.get(key)
        if kept is not None and time.monotonic() < kept[0]:
            return kept[1]
        pending = self.reading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        pending = self.reading[key] = asyncio.get_running_loop().create_future()
        try:
            started = time.monotonic()
            counts = await store.finished_counts(since, bucket, queues, top)
            self._keep(key, counts, time.monotonic() - started)
            pending.set_result(counts)
            return counts
        except Exception as exc:
            pending.set_exception(exc)
            pending.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        except BaseException:
            pending.cancel()
            raise
        finally:
            del self.reading[key]

    def _keep(self, key: ThroughputKey, counts: list[FinishedCount], cost: float) -> None:
        if len(self.answers) >= self.size:
            now = time.monotonic()
            self.answers = {k: v for k, v in self.answers.items() if v[0] > now}
            while len(self.answers) >= self.size:
                del self.answers[next(iter(self.answers))]
        fresh = time.monotonic() + max(self.min_age, self.cost_factor * cost)
        self.answers[key] = (fresh, counts)


LIVE_WINDOW = 60.0  # seconds: a worker seen within them (or holding a job) is live


def is_live(worker: WorkerSeen, now: float) -> bool:
    """Whether a worker is live: it claimed within LIVE_WINDOW, or holds a running job (a
    worker whose slots are all busy claims nothing, but its jobs' leases are renewed: were
    it gone, they would expire and go back)."""
    return worker.jobs_held > 0 or now - worker.last_seen <= LIVE_WINDOW
