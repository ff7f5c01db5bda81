"""The PostgreSQL limited claim (jobq.store.limits): limited queues' jobs, within their room.

The limited queues' rows are locked in name order (claims of one limited queue, on every node,
take turns; no two claims can lock two queues in opposite orders), and each later statement
reads the database as committed after the lock was taken: the running jobs and starts of the
claim that held the lock before are counted."""

from __future__ import annotations

from typing import Any

from jobq.model import ClaimSpec, Job, QueueLimits
from jobq.store import limits
from jobq.store.postgres.conn import Conn
from jobq.store.postgres.sql import CLAIM, OPEN_ATTEMPTS, STILL_QUEUED
from jobq.store.rows import job_from_row

LOCK_LIMITED = (
    "SELECT name, concurrency, rate, rate_period FROM queues WHERE name = ANY($1::text[]) "
    "AND operator_paused = 0 AND (concurrency IS NOT NULL OR rate IS NOT NULL) "
    "ORDER BY name FOR UPDATE"
)
RUNNING = (
    "SELECT queue, count(*) FROM jobs WHERE queue = ANY($1::text[]) AND state = 'running' "
    "GROUP BY queue"
)
FORGET_STARTS = (
    "DELETE FROM queue_starts AS s USING unnest($1::text[], $2::float8[]) AS w (queue, since) "
    "WHERE s.queue = w.queue AND s.at <= w.since"
)
STARTED = (
    "SELECT w.queue, (SELECT count(*) FROM queue_starts AS s WHERE s.queue = w.queue "
    "AND s.at > w.since) FROM unnest($1::text[], $2::float8[]) AS w (queue, since)"
)
RECORD_STARTS = "INSERT INTO queue_starts (queue, at) SELECT unnest($1::text[]), $2::float8"
# each queue's best queued jobs ($1 queues, $2 how many of each), among the ids $3 (NULL: any)
# and of the types $4, locked
_HEADS = """
SELECT c.priority, c.seq, c.queue FROM unnest($1::text[], $2::integer[]) AS q (name, take)
{types}CROSS JOIN LATERAL (
    SELECT priority, seq, queue FROM jobs
    WHERE state = 'queued' AND queue = q.name {typed}
      AND ($3::text[] IS NULL OR id = ANY($3::text[]))
    ORDER BY priority DESC, seq LIMIT q.take) AS c
"""
HEADS = _HEADS.format(types="", typed="")
HEADS_OF_TYPES = _HEADS.format(
    types="CROSS JOIN unnest($4::text[]) AS t (kind)\n", typed="AND type = t.kind"
)
LOCK = (
    f"SELECT seq FROM jobs WHERE seq = ANY($1::bigint[]) AND {STILL_QUEUED} FOR UPDATE SKIP LOCKED"
)


async def claim_limited(
    c: Conn, spec: ClaimSpec, lease_key: str, now: float, worker: str
) -> list[Job]:
    """Lease the best queued jobs of the limited queues spec.limited, within their room."""
    rooms, rated = await _rooms(c, spec.limited, now)
    if not rooms:
        return []
    candidates = await _heads(c, spec, rooms)
    locked = {r[0] for r in await c.fetch(LOCK, [seq for _, seq, _ in candidates])}
    free = [row for row in candidates if row[1] in locked]
    seqs = limits.within_room(free, rooms, spec.limit)
    if not seqs:
        return []
    tokens = [f"{lease_key}.{seq}" for seq in seqs]
    rows = await c.fetch(CLAIM, spec.lease_seconds, now, worker, seqs, tokens)
    jobs = sorted((job_from_row(r) for r in rows), key=lambda j: (-j.priority, j.seq))
    await c.execute(OPEN_ATTEMPTS, [j.id for j in jobs], [j.attempt for j in jobs], now, worker)
    starts = [job.queue for job in jobs if job.queue in rated]
    if starts:
        await c.execute(RECORD_STARTS, starts, now)
    return jobs


async def _rooms(c: Conn, queues: tuple[str, ...], now: float) -> tuple[dict[str, int], set[str]]:
    """Each limited queue's room (those with some), and the rate-limited ones; their rows
    stay locked until the claim's transaction ends."""
    rows = await c.fetch(LOCK_LIMITED, list(queues))
    found = {r[0]: QueueLimits(r[1], r[2], r[3]) for r in rows}
    counted = [name for name, lim in found.items() if lim.concurrency is not None]
    running: dict[str, int] = dict(await c.fetch(RUNNING, counted)) if counted else {}
    windows = {n: s for n, lim in found.items() if (s := limits.rate_since(lim, now)) is not None}
    started: dict[str, int] = {}
    if windows:
        await c.execute(FORGET_STARTS, list(windows), list(windows.values()))
        started = dict(await c.fetch(STARTED, list(windows), list(windows.values())))
    rooms = {
        name: left
        for name, lim in found.items()
        if (left := limits.room(lim, running.get(name, 0), started.get(name, 0))) > 0
    }
    return rooms, set(windows)


async def _heads(c: Conn, spec: ClaimSpec, rooms: dict[str, int]) -> list[Any]:
    """The best queued jobs of each queue with room, (priority, seq, queue) each."""
    names = list(rooms)
    takes = [min(rooms[name], spec.limit) for name in names]
    ids = list(spec.ids) if spec.ids is not None else None
    if spec.types is None:
        return list(await c.fetch(HEADS, names, takes, ids))
    return list(await c.fetch(HEADS_OF_TYPES, names, takes, ids, list(spec.types)))
