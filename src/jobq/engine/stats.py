"""Queue counts cheap to poll from many open pages.

The counts per state come from one shared `queue_stats()` taken at most every max(2 s, 10 x
its last cost), however many pages poll (with 1,000,000 jobs on SQLite that scan costs about
half a second: docs/design.md); the paused flags are read fresh each time, so pause and
resume show at once.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from jobq.model import QueueStats
from jobq.store.base import Store


@dataclass(slots=True, frozen=True)
class QueueSnapshot:
    """Every queue's counts as of `as_of` (wall clock), and which queues are paused now."""

    as_of: float
    queues: list[QueueStats]
    paused: set[str]


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
