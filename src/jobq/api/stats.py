"""Aggregate numbers for dashboards, cheap to poll from many open pages.

`GET /api/v1/stats/throughput?minutes=60` counts jobs by the time they finished (succeeded,
failed or cancelled), read from the `jobs_finished` index only. Jobs purged or deleted within
the window no longer count: the store is the only record.

`GET /api/v1/stats/queues` is `GET /queues` for pollers: the counts per state come from one
shared `queue_stats()` taken at most every max(2 s, 10 x its last cost), however many pages
poll (with 1,000,000 jobs on SQLite that scan costs about half a second: docs/design.md);
the paused flags are read fresh each time, so pause and resume show at once.

Both show queues by the rule of `GET /queues`: those the caller holds any role on.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from jobq.api.native import ERRORS, engine_of
from jobq.api.responses import json
from jobq.api.security import guard_of
from jobq.model import FinishedCount, QueueStats
from jobq.render import iso
from jobq.states import TERMINAL
from jobq.store.base import Store

router = APIRouter()
MAX_TOP = 100  # queues a throughput answer names


@router.get("/stats/throughput", responses=ERRORS)
async def throughput(
    request: Request,
    minutes: Annotated[int, Query(ge=1, le=1440)] = 60,
    bucket: Annotated[int, Query(ge=10, le=3600, description="seconds per bucket")] = 60,
    top: Annotated[
        int, Query(ge=1, le=MAX_TOP, description="queues shown by name, the busiest first")
    ] = 20,
) -> Response:
    """Jobs finished in each of the last `minutes`, per queue and terminal state, oldest
    bucket first; the last bucket is the one in progress. The `top` queues that finished most
    are shown by name, all others together under `other`: the answer's size is bounded by
    `top` and the bucket count, never by how many queues there are."""
    guard = await guard_of(request)
    buckets = max(1, -(-minutes * 60 // bucket))
    now = time.time()
    since = (now // bucket + 1) * bucket - buckets * bucket  # buckets aligned to the clock
    counts = await engine_of(request).store.finished_counts(
        since, bucket, guard.visible_queues(), top
    )
    named, other = series(counts, buckets)
    return json({
        "since": iso(since), "bucket_seconds": bucket, "buckets": buckets,
        "queues": named, "other": other,
    })  # fmt: skip


Series = dict[str, list[int]]  # terminal state -> count per bucket


def series(counts: list[FinishedCount], buckets: int) -> tuple[dict[str, Series], Series]:
    """({queue: {state: [count per bucket]}}, the same for the queues not named), with every
    terminal state present."""
    named: dict[str, Series] = {}
    other = _empty(buckets)
    for c in counts:
        if not 0 <= c.bucket < buckets:
            continue  # finished "in the future" by a clock step on another node
        states = other if c.queue is None else named.setdefault(c.queue, _empty(buckets))
        states.setdefault(c.state, [0] * buckets)[c.bucket] += c.count
    return named, other


def _empty(buckets: int) -> dict[str, Any]:
    return {str(s): [0] * buckets for s in sorted(TERMINAL)}


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

    async def get(self, store: Store) -> list[QueueStats]:
        async with self.lock:  # one scan at a time; the others wait and share it
            if time.monotonic() >= self.fresh_until:
                started = time.monotonic()
                self.stats = await store.queue_stats()
                cost = time.monotonic() - started
                self.taken_at = time.time()
                self.fresh_until = time.monotonic() + max(self.min_age, self.cost_factor * cost)
            return self.stats


def queue_stats_cache(request: Request) -> QueueStatsCache:
    cache = getattr(request.app.state, "queue_stats_cache", None)
    if cache is None:
        cache = request.app.state.queue_stats_cache = QueueStatsCache()
    return cache  # type: ignore[no-any-return]


@router.get("/stats/queues", responses=ERRORS)
async def queues(request: Request) -> Response:
    """Jobs in each state per queue (at most a few seconds old, see `as_of`), the age of the
    oldest waiting job, and whether the queue is paused (current)."""
    guard = await guard_of(request)
    cache = queue_stats_cache(request)
    store = engine_of(request).store
    stats = await cache.get(store)
    paused = await store.paused_queues()
    return json({
        "as_of": iso(cache.taken_at),
        "queues": [
            {"name": q.name, "counts": q.counts, "paused": q.name in paused,
             "oldest_queued_at": iso(q.oldest_queued_at)}
            for q in stats if guard.sees_queue(q.name)
        ],
    })  # fmt: skip
