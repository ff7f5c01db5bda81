"""Aggregate numbers for dashboards, cheap to poll from many open pages.

`GET /api/v1/stats/throughput?minutes=60` counts jobs by the time they finished (succeeded,
failed or cancelled), read from the `jobs_finished` index only. Jobs purged or deleted within
the window no longer count: the store is the only record.

`GET /api/v1/stats/queues` is `GET /queues` for pollers: the engine's queue snapshot, whose
counts per state are shared by every poller (at most a few seconds old) and whose paused
flags and flow limits are read fresh each time (jobq.engine.stats).

Both show queues by the rule of `GET /queues`: those the caller holds any role on.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from jobq.api.http.context import engine_of
from jobq.api.http.responses import json
from jobq.api.http.security import guard_of
from jobq.api.native.routes import ERRORS, limits_document
from jobq.errors import InvalidInput
from jobq.model import FinishedCount
from jobq.render import iso
from jobq.states import TERMINAL

router = APIRouter()
MAX_TOP = 100  # queues a throughput answer names
MAX_MINUTES = 7 * 24 * 60  # the longest range a throughput answer covers
MAX_BUCKETS = 1440


@router.get("/stats/throughput", responses=ERRORS)
async def throughput(
    request: Request,
    minutes: Annotated[int, Query(ge=1, le=MAX_MINUTES, description="up to a week")] = 60,
    bucket: Annotated[int, Query(ge=10, le=86400, description="seconds per bucket")] = 60,
    top: Annotated[
        int, Query(ge=1, le=MAX_TOP, description="queues shown by name, the busiest first")
    ] = 20,
) -> Response:
    """Jobs finished in each bucket of the last `minutes`, per queue and terminal state,
    oldest bucket first; the last bucket is the one in progress. Beside the states, per
    bucket: `waited`, how many of those jobs had started, and `wait_seconds`, the sum of
    their waits from due (run_at) to their last attempt's start (their mean wait is
    `wait_seconds / waited`). The `top` queues that finished most are shown by name, all
    others together under `other`: the answer's size is bounded by `top` and the bucket
    count (at most 1,440), never by how many queues there are; the store reads only the
    caller's queues."""
    guard = await guard_of(request)
    buckets = max(1, -(-minutes * 60 // bucket))
    if buckets > MAX_BUCKETS:
        raise InvalidInput(
            f"at most {MAX_BUCKETS} buckets: choose larger buckets for {minutes} minutes",
            minutes=minutes,
            bucket=bucket,
        )
    now = time.time()
    since = (now // bucket + 1) * bucket - buckets * bucket  # buckets aligned to the clock
    counts = await engine_of(request).throughput(since, bucket, guard.visible_queues(), top)
    named, other = series(counts, buckets)
    return json(
        {
            "since": iso(since),
            "bucket_seconds": bucket,
            "buckets": buckets,
            "queues": named,
            "other": other,
        }
    )


Series = dict[str, list[Any]]  # terminal state, waited, wait_seconds -> a value per bucket


def series(counts: list[FinishedCount], buckets: int) -> tuple[dict[str, Series], Series]:
    """({queue: {state: [count per bucket], "waited": [...], "wait_seconds": [...]}}, the
    same for the queues not named), with every terminal state present."""
    named: dict[str, Series] = {}
    other = _empty(buckets)
    for c in counts:
        if not 0 <= c.bucket < buckets:
            continue  # finished "in the future" by a clock step on another node
        states = other if c.queue is None else named.setdefault(c.queue, _empty(buckets))
        states.setdefault(c.state, [0] * buckets)[c.bucket] += c.count
        states["waited"][c.bucket] += c.waited
        states["wait_seconds"][c.bucket] = round(
            states["wait_seconds"][c.bucket] + c.wait_seconds, 3
        )
    return named, other


def _empty(buckets: int) -> dict[str, Any]:
    empty = {str(s): [0] * buckets for s in sorted(TERMINAL)}
    return {**empty, "waited": [0] * buckets, "wait_seconds": [0.0] * buckets}


@router.get("/stats/queues", responses=ERRORS)
async def queues(request: Request) -> Response:
    """Jobs in each state per queue (at most a few seconds old, see `as_of`), the age of the
    oldest waiting job, whether the queue is paused and its flow limits (null: none; both
    current)."""
    guard = await guard_of(request)
    snapshot = await engine_of(request).queue_snapshot()
    return json(
        {
            "as_of": iso(snapshot.as_of),
            "queues": [
                {
                    "name": q.name,
                    "counts": q.counts,
                    "retried": q.retried,
                    "paused": q.name in snapshot.paused,
                    "oldest_queued_at": iso(q.oldest_queued_at),
                    "limits": limits_document(snapshot.limits[q.name])
                    if q.name in snapshot.limits
                    else None,
                }
                for q in snapshot.queues
                if guard.sees_queue(q.name)
            ],
        }
    )
