"""The PostgreSQL limited claim (jobq.store.limits): limited queues' jobs, within their room; in
a keyed queue, the keys take turns, each within its per-key limit.

The limited queues' rows are locked in name order (claims of one limited queue, on every node,
take turns; no two claims can lock two queues in opposite orders), and each later statement
reads the database as committed after the lock was taken: the running jobs, starts and keys of
the claim that held the lock before are counted."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from jobq.model import ClaimSpec, Job, QueueLimits
from jobq.store import limits
from jobq.store.limits import HEAD_WINDOW, KEY_WINDOW, Candidate, KeyedChoice, KeyProbe
from jobq.store.postgres.conn import Conn
from jobq.store.postgres.sql import CLAIM_OPENED
from jobq.store.rows import job_from_row, queue_limits

# the limited queues among $1 that have a queued job (the others cost the claim no more)
LOCK_LIMITED = (
    "SELECT name, concurrency, rate, rate_period, per_key, aging, key_weights, key_rate, "
    "key_rate_period FROM queues "
    "WHERE name = ANY($1::text[]) AND operator_paused = 0 "
    "AND (concurrency IS NOT NULL OR rate IS NOT NULL OR per_key IS NOT NULL "
    "OR aging IS NOT NULL OR key_rate IS NOT NULL) "
    "AND EXISTS (SELECT 1 FROM jobs WHERE queue = queues.name AND state = 'queued') "
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
    "SELECT w.queue, (SELECT coalesce(sum(started), 0) FROM queue_starts AS s "
    "WHERE s.queue = w.queue AND s.at > w.since) "
    "FROM unnest($1::text[], $2::float8[]) AS w (queue, since)"
)
# Starts are counted in the latest slot recorded if it is later than now's: a claim whose
# `now` was read before an earlier claim's (another node's clock, a wait for the lock) never
# records its starts before that claim's, where a later count could miss them.
RECORD_STARTS = (
    "INSERT INTO queue_starts (queue, at, started) "
    "SELECT n.queue, greatest(n.at, (SELECT max(s.at) FROM queue_starts AS s "
    "WHERE s.queue = n.queue)), n.started "
    "FROM unnest($1::text[], $2::float8[], $3::integer[]) AS n (queue, at, started) "
    "ON CONFLICT (queue, at) DO UPDATE SET started = queue_starts.started + excluded.started"
)
_FILTERS = "AND ($3::text[] IS NULL OR id = ANY($3::text[])) {typed}"
# each queue's best queued jobs ($1 queues, $2 how many of each), among the ids $3 (NULL: any)
# and of the types $4
_HEADS = """
SELECT c.priority, c.seq, c.queue FROM unnest($1::text[], $2::integer[]) AS q (name, take)
{types}CROSS JOIN LATERAL (
    SELECT priority, seq, queue FROM jobs WHERE state = 'queued' AND queue = q.name {filters}
    ORDER BY priority DESC, seq LIMIT q.take) AS c
"""
HEADS = _HEADS.format(types="", filters=_FILTERS.format(typed=""))
HEADS_OF_TYPES = _HEADS.format(
    types="CROSS JOIN unnest($4::text[]) AS t (kind)\n",
    filters=_FILTERS.format(typed="AND type = t.kind"),
)
# each queue's oldest queued jobs ($1 queues, $2 how many of each; ids $3, types $4 as above),
# for their aging: (priority, seq, run_at)
OLDEST = """
SELECT c.priority, c.seq, c.run_at FROM unnest($1::text[], $2::integer[]) AS q (name, take)
CROSS JOIN LATERAL (
    SELECT priority, seq, run_at FROM jobs WHERE state = 'queued' AND queue = q.name
      AND ($3::text[] IS NULL OR id = ANY($3::text[]))
      AND ($4::text[] IS NULL OR type = ANY($4::text[]))
    ORDER BY seq LIMIT q.take) AS c
"""
# a keyed queue's first $2 keys in turn ($1 the queue), each with its running jobs, whether
# it has a live job, and its best queued jobs that fit its room and its share (key_share, of
# its weight: $7 keys, $8 weights): $5 the per-key limit (NULL: none), $6 what the claim
# wants, $9 the per-key rate (NULL: none) counted in the slots after $10 (the key '' has no
# per-key limits); ids $3 and types $4 as above
KEY_PROBES = f"""
WITH k AS (SELECT key, turn, served FROM jobq_keys_in_turn($1, $2)),
r AS (SELECT k.key, k.turn, k.served, (SELECT count(*) FROM jobs WHERE queue = $1
          AND concurrency_key = k.key AND state = 'running') AS running,
          (($6 + (SELECT count(*) FROM k) - 1) / (SELECT count(*) FROM k) + 1)
          * coalesce((SELECT w.weight FROM unnest($7::text[], $8::integer[]) AS w (key, weight)
                      WHERE w.key = k.key), 1) AS share,
          CASE WHEN $9::integer IS NULL OR k.key = '' THEN $6
               ELSE $9 - (SELECT coalesce(sum(s.started), 0) FROM key_starts AS s
                          WHERE s.queue = $1 AND s.key = k.key AND s.at > $10::float8)
          END AS rate_left
      FROM k)
SELECT r.key, r.running, r.served, c.priority, c.seq, coalesce((SELECT true FROM jobs
    WHERE queue = $1 AND concurrency_key = r.key AND state IN ('scheduled', 'queued', 'running')
    LIMIT 1), false) AS live
FROM r LEFT JOIN LATERAL (
    SELECT priority, seq FROM jobs WHERE state = 'queued' AND queue = $1
      AND concurrency_key = r.key {_FILTERS.format(typed="AND ($4::text[] IS NULL OR type = ANY($4::text[]))")}
    ORDER BY priority DESC, seq
    LIMIT greatest(least(CASE WHEN r.key = '' OR $5::integer IS NULL THEN $6
                              ELSE $5 - r.running END, $6, r.share, r.rate_left), 0)) AS c
    ON true
ORDER BY r.turn, r.key, c.priority DESC, c.seq
"""  # noqa: E501
FORGET_KEY_STARTS = "DELETE FROM key_starts WHERE queue = $1 AND at <= $2"
RECORD_KEY_STARTS = """
INSERT INTO key_starts (queue, key, at, started)
SELECT n.queue, n.key, greatest(n.at, (SELECT max(s.at) FROM key_starts AS s
    WHERE s.queue = n.queue AND s.key = n.key)), n.started
FROM unnest($1::text[], $2::text[], $3::float8[], $4::integer[]) AS n (queue, key, at, started)
ON CONFLICT (queue, key, at) DO UPDATE SET started = key_starts.started + excluded.started
"""
FORGET_KEYS = "DELETE FROM queue_keys WHERE queue = $1 AND key = ANY($2::text[])"
TO_THE_BACK = """
UPDATE queue_keys SET turn = m.top + v.n, served = 0
FROM unnest($2::text[]) WITH ORDINALITY AS v (key, n),
     (SELECT max(turn) AS top FROM queue_keys WHERE queue = $1) AS m
WHERE queue_keys.queue = $1 AND queue_keys.key = v.key
"""
KEEP_THE_FRONT = """
UPDATE queue_keys SET served = v.served
FROM unnest($2::text[], $3::integer[]) AS v (key, served)
WHERE queue_keys.queue = $1 AND queue_keys.key = v.key
"""
# new keys' places in keyed queues: the front of the turns (a key back after a while waits no
# longer than one round); the queue's row is read FOR SHARE, so a queue being keyed meanwhile
# either seats this key itself (its transaction waits for this one) or is seen keyed here
SEAT_KEYS = """
INSERT INTO queue_keys (queue, key, turn)
SELECT n.queue, n.key, coalesce((SELECT min(turn) FROM queue_keys WHERE queue = n.queue), 0)
FROM unnest($1::text[], $2::text[]) AS n (queue, key)
WHERE EXISTS (SELECT 1 FROM queues WHERE name = n.queue
    AND (per_key IS NOT NULL OR key_rate IS NOT NULL) FOR SHARE)
ON CONFLICT (queue, key) DO NOTHING
"""
# The first queued jobs of a keyed queue ($1), mended: a job without a key gets the key '', a
# key without a place gets one (see jobq.store.sqlite.limited)
_HEAD = f"""
SELECT seq, concurrency_key FROM jobs WHERE state = 'queued' AND queue = $1
ORDER BY priority DESC, seq LIMIT {HEAD_WINDOW}
"""
KEY_THE_HEAD = f"""
UPDATE jobs SET concurrency_key = '' WHERE seq IN (SELECT seq FROM ({_HEAD}) AS h
    WHERE concurrency_key IS NULL)
"""
SEAT_THE_HEAD = f"""
INSERT INTO queue_keys (queue, key, turn)
SELECT DISTINCT $1, concurrency_key, coalesce((SELECT min(turn) FROM queue_keys
    WHERE queue = $1), 0) FROM ({_HEAD}) AS h WHERE concurrency_key IS NOT NULL
ON CONFLICT (queue, key) DO NOTHING
"""


async def claim_limited(
    c: Conn, spec: ClaimSpec, lease_key: str, now: float, worker: str
) -> list[Job]:
    """Lease the best queued jobs of the limited queues spec.limited, within their room. The
    time of the claim is `now` plus the wait for the queues' locks: the claim starts its jobs
    after the claim that held them, and counts and records its starts so."""
    began = time.monotonic()
    found = {r[0]: queue_limits(r[1:]) for r in await c.fetch(LOCK_LIMITED, list(spec.limited))}
    now += time.monotonic() - began
    rooms, rated = await _rooms(c, found, spec.limit, now)
    plain = {q: left for q, left in rooms.items() if not found[q].keyed}
    candidates = limits.ranked(await _heads(c, spec, plain)) if plain else []
    candidates += await _overdue(c, spec, {q: found[q] for q in plain}, rooms, now)
    keyed: dict[str, KeyedChoice] = {}
    for queue in rooms.keys() - plain.keys():
        probes = await _probes(c, spec, queue, found[queue], rooms[queue], now)
        weights = dict(found[queue].weights)
        keyed[queue] = choice = limits.choose_keys(queue, probes, rooms[queue], weights)
        candidates += choice.candidates
        if len(choice.candidates) < rooms[queue]:  # short: mend the head for the next claim
            await c.execute(KEY_THE_HEAD, queue)
            await c.execute(SEAT_THE_HEAD, queue)
    # no other claim leases these queues' jobs while their rows are locked: the lease's own
    # update waits for any other writer of a chosen job and leaves it if it is queued no more
    seqs = limits.within_room(candidates, rooms, spec.limit)
    for queue, choice in keyed.items():
        await _take_turns(c, queue, choice, seqs)
    if not seqs:
        return []
    tokens = [f"{lease_key}.{seq}" for seq in seqs]
    rows = await c.fetch(CLAIM_OPENED, spec.lease_seconds, now, worker, seqs, tokens)
    jobs = sorted((job_from_row(r) for r in rows), key=lambda j: (-j.priority, j.seq))
    started = Counter(job.queue for job in jobs if job.queue in rated)
    if started:
        queues = sorted(started)
        slots = [limits.rate_slot(rated[q], now) for q in queues]
        await c.execute(RECORD_STARTS, queues, slots, [started[q] for q in queues])
    await _record_key_starts(c, found, jobs, now)
    return jobs


async def _record_key_starts(
    c: Conn, found: dict[str, QueueLimits], jobs: list[Job], now: float
) -> None:
    """Count the starts of each key of a queue with a per-key rate."""
    started = Counter(
        (job.queue, job.concurrency_key)
        for job in jobs
        if found[job.queue].key_rate is not None and job.concurrency_key  # not the key ''
    )
    if not started:
        return
    rows = sorted(started.items())
    slots = [limits.slot_at(found[q].key_rate_period or 1.0, now) for (q, _), _ in rows]
    queues, keys = [q for (q, _), _ in rows], [k for (_, k), _ in rows]
    await c.execute(RECORD_KEY_STARTS, queues, keys, slots, [n for _, n in rows])


async def seat_keys(c: Conn, jobs: Sequence[Job]) -> None:
    """Give each new key of `jobs` its place in its queue's turns (a no-op for known keys)."""
    keys = sorted({(j.queue, j.concurrency_key) for j in jobs if j.concurrency_key is not None})
    if keys:
        await c.execute(SEAT_KEYS, [q for q, _ in keys], [k for _, k in keys])


async def _rooms(
    c: Conn, found: dict[str, QueueLimits], ceiling: int, now: float
) -> tuple[dict[str, int], dict[str, QueueLimits]]:
    """Each limited queue's room (those with some), and the rate-limited ones' limits."""
    counted = [name for name, lim in found.items() if lim.concurrency is not None]
    running: dict[str, int] = dict(await c.fetch(RUNNING, counted)) if counted else {}
    windows = {n: s for n, lim in found.items() if (s := limits.rate_since(lim, now)) is not None}
    started: dict[str, int] = {}
    if windows:
        forget = [limits.forget_before(s, found[n].rate_period or 0) for n, s in windows.items()]
        await c.execute(FORGET_STARTS, list(windows), forget)
        started = dict(await c.fetch(STARTED, list(windows), list(windows.values())))
    rooms = {
        name: left
        for name, lim in found.items()
        if (left := limits.room(lim, running.get(name, 0), started.get(name, 0), ceiling)) > 0
    }
    return rooms, {name: found[name] for name in windows}


async def _heads(c: Conn, spec: ClaimSpec, rooms: dict[str, int]) -> list[Any]:
    """The best queued jobs of each queue with room, (priority, seq, queue) each."""
    names = list(rooms)
    takes = [min(rooms[name], spec.limit) for name in names]
    ids = list(spec.ids) if spec.ids is not None else None
    if spec.types is None:
        return list(await c.fetch(HEADS, names, takes, ids))
    return list(await c.fetch(HEADS_OF_TYPES, names, takes, ids, list(spec.types)))


async def _overdue(
    c: Conn, spec: ClaimSpec, found: dict[str, QueueLimits], rooms: dict[str, int], now: float
) -> list[Candidate]:
    """The jobs of the aging queues among `found` waiting longer than their aging, as
    candidates before any priority."""
    aging = {q: lim.aging for q, lim in found.items() if lim.aging is not None}
    if not aging:
        return []
    names = sorted(aging)
    takes = [min(rooms[q], spec.limit) for q in names]
    ids = list(spec.ids) if spec.ids is not None else None
    types = list(spec.types) if spec.types is not None else None
    out: list[Candidate] = []
    for queue in names:  # one statement per aging queue: each has its own `since`
        rows = await c.fetch(OLDEST, [queue], [takes[names.index(queue)]], ids, types)
        out += limits.aged(rows, queue, now - aging[queue])
    return out


async def _probes(
    c: Conn, spec: ClaimSpec, queue: str, lim: QueueLimits, want: int, now: float
) -> list[KeyProbe]:
    """The first keys of a keyed queue in turn, each with what the claim may take of it."""
    ids = list(spec.ids) if spec.ids is not None else None
    types = list(spec.types) if spec.types is not None else None
    keys, weights = [k for k, _ in lim.weights], [w for _, w in lim.weights]
    since = limits.key_rate_since(lim, now)
    if since is not None:
        await c.execute(
            FORGET_KEY_STARTS, queue, limits.forget_before(since, lim.key_rate_period or 0)
        )
    args = (ids, types, lim.per_key, want, keys, weights, lim.key_rate, since)
    rows = await c.fetch(KEY_PROBES, queue, want + KEY_WINDOW, *args)
    probes: list[KeyProbe] = []
    for key, running, served, priority, seq, live in rows:
        if not probes or probes[-1].key != key:
            probes.append(KeyProbe(key, running, [], live, served))
        if seq is not None:
            probes[-1].heads.append((priority, seq))
    return probes


async def _take_turns(c: Conn, queue: str, choice: KeyedChoice, seqs: list[int]) -> None:
    """Keys passed over or done with their turn go to the back, keys without work leave."""
    if choice.gone:
        await c.execute(FORGET_KEYS, queue, choice.gone)
    back, stay = limits.next_turns(choice, seqs)
    if back:
        await c.execute(TO_THE_BACK, queue, back)
    if stay:
        await c.execute(KEEP_THE_FRONT, queue, list(stay), list(stay.values()))
