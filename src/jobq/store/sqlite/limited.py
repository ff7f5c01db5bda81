"""The SQLite limited claim (jobq.store.limits): limited queues' jobs, within their room; in a
keyed queue, the keys take turns, each within its per-key limit. SQLite has one writer, so
what this counts cannot change before the claim's transaction commits."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from jobq.model import ClaimSpec, Job, QueueLimits
from jobq.store import limits
from jobq.store.job_sql import LIVE_KEYED
from jobq.store.limits import HEAD_WINDOW, KEY_WINDOW, UNKEYED, Candidate, KeyedChoice, KeyProbe
from jobq.store.rows import dumps, queue_limits, worker_dict
from jobq.store.sqlite.lease import LEASE, opened

# the limited queues among ?1 that have a queued job (the others cost the claim no more)
LIMITED = (
    "SELECT name, concurrency, rate, rate_period, per_key, aging, key_weights, key_rate, "
    "key_rate_period FROM queues "
    "WHERE name IN (SELECT value FROM json_each(?1)) AND operator_paused = 0 "
    "AND (concurrency IS NOT NULL OR rate IS NOT NULL OR per_key IS NOT NULL "
    "OR aging IS NOT NULL OR key_rate IS NOT NULL) "
    "AND EXISTS (SELECT 1 FROM jobs INDEXED BY jobs_claim WHERE queue = name "
    "AND state = 'queued') ORDER BY name"
)
RUNNING = (
    "SELECT count(*) FROM jobs INDEXED BY jobs_queue_state WHERE queue = ?1 AND state = 'running'"
)
FORGET_STARTS = "DELETE FROM queue_starts WHERE queue = ?1 AND at <= ?2"
STARTED = "SELECT coalesce(sum(started), 0) FROM queue_starts WHERE queue = ?1 AND at > ?2"
# Starts are counted in the latest slot recorded if it is later than now's: a claim whose
# `now` was read before an earlier claim's (a clock a little behind, a wait for the lock)
# never records its starts before that claim's, where a later count could miss them.
RECORD_STARTS = (
    "INSERT INTO queue_starts (queue, at, started) VALUES (?1, "
    "max(?2, coalesce((SELECT max(at) FROM queue_starts WHERE queue = ?1), ?2)), ?3) "
    "ON CONFLICT (queue, at) DO UPDATE SET started = started + excluded.started"
)
# a queue's (or a key's) best queued jobs: ?1 queue, ?2 how many, ?3 type or ids, ?4 key
_BEST = (
    "SELECT priority, seq FROM jobs INDEXED BY {index} WHERE state = 'queued' AND queue = ?1 "
    "{filters} ORDER BY priority DESC, seq LIMIT ?2"
)
_OF_TYPE = "AND type = ?3"
_NAMED = "AND id IN (SELECT value FROM json_each(?3))"
_OF_KEY = "AND concurrency_key = ?4 AND concurrency_key IS NOT NULL"
_OF_TYPES = "AND type IN (SELECT value FROM json_each(?3))"
BEST = _BEST.format(index="jobs_claim", filters="")
BEST_OF_TYPE = _BEST.format(index="jobs_claim_type", filters=_OF_TYPE)
BEST_NAMED = _BEST.format(index="jobs_claim", filters=_NAMED)
KEY_BEST = _BEST.format(index="jobs_key_claim", filters=_OF_KEY)
KEY_BEST_OF_TYPES = _BEST.format(index="jobs_key_claim", filters=f"{_OF_KEY} {_OF_TYPES}")
KEY_BEST_NAMED = _BEST.format(index="jobs_key_claim", filters=f"{_OF_KEY} {_NAMED}")

# a queue's oldest queued jobs (?1 queue, ?2 how many, ?3 types or ids), for its aging
_OLDEST = (
    "SELECT priority, seq, run_at FROM jobs INDEXED BY jobs_queue_state WHERE queue = ?1 "
    "AND state = 'queued' {filters} ORDER BY seq LIMIT ?2"
)
OLDEST = _OLDEST.format(filters="")
OLDEST_OF_TYPES = _OLDEST.format(filters=_OF_TYPES)
OLDEST_NAMED = _OLDEST.format(filters=_NAMED)

FORGET_KEY_STARTS = "DELETE FROM key_starts WHERE queue = ?1 AND at <= ?2"
KEY_STARTED = (
    "SELECT coalesce(sum(started), 0) FROM key_starts WHERE queue = ?1 AND key = ?2 AND at > ?3"
)
RECORD_KEY_STARTS = (
    "INSERT INTO key_starts (queue, key, at, started) VALUES (?1, ?2, max(?3, coalesce("
    "(SELECT max(at) FROM key_starts WHERE queue = ?1 AND key = ?2), ?3)), ?4) "
    "ON CONFLICT (queue, key, at) DO UPDATE SET started = started + excluded.started"
)
KEYS = "SELECT key, served FROM queue_keys WHERE queue = ?1 ORDER BY turn, key LIMIT ?2"
# the terms of jobs_key_live's predicate are spelled out: SQLite uses a partial index only for
# a WHERE that holds them as written
KEY_RUNNING = (
    "SELECT count(*) FROM jobs INDEXED BY jobs_key_live WHERE queue = ?1 "
    f"AND concurrency_key = ?2 AND {LIVE_KEYED} AND state = 'running'"
)
KEY_LIVE = (
    "SELECT 1 FROM jobs INDEXED BY jobs_key_live WHERE queue = ?1 AND concurrency_key = ?2 "
    f"AND {LIVE_KEYED} LIMIT 1"
)
FORGET_KEY = "DELETE FROM queue_keys WHERE queue = ?1 AND key = ?2"
TO_THE_BACK = (
    "UPDATE queue_keys SET turn = (SELECT max(turn) FROM queue_keys WHERE queue = ?1) + 1, "
    "served = 0 WHERE queue = ?1 AND key = ?2"
)
KEEP_THE_FRONT = "UPDATE queue_keys SET served = ?3 WHERE queue = ?1 AND key = ?2"
# a new key's place in a keyed queue: the front of the turns (a key back after a while waits
# no longer than one round)
SEAT_KEY = (
    "INSERT INTO queue_keys (queue, key, turn) "
    "SELECT ?1, ?2, coalesce((SELECT min(turn) FROM queue_keys WHERE queue = ?1), 0) "
    "WHERE EXISTS (SELECT 1 FROM queues WHERE name = ?1 "
    "AND (per_key IS NOT NULL OR key_rate IS NOT NULL)) "
    "ON CONFLICT (queue, key) DO NOTHING"
)
# The first queued jobs of a keyed queue, mended: a job without a key gets the key '', a key
# without a place gets one. A job enqueued while its queue was being keyed (on a node that did
# not know it yet) is found so, once it reaches the head of the queue.
_HEAD = (
    "SELECT seq, concurrency_key FROM jobs INDEXED BY jobs_claim WHERE state = 'queued' "
    f"AND queue = ?1 ORDER BY priority DESC, seq LIMIT {HEAD_WINDOW}"
)
KEY_THE_HEAD = (
    f"UPDATE jobs SET concurrency_key = '' WHERE seq IN (SELECT seq FROM ({_HEAD}) "
    "WHERE concurrency_key IS NULL)"
)
SEAT_THE_HEAD = (
    "INSERT INTO queue_keys (queue, key, turn) SELECT DISTINCT ?1, concurrency_key, "
    f"coalesce((SELECT min(turn) FROM queue_keys WHERE queue = ?1), 0) FROM ({_HEAD}) "
    "WHERE concurrency_key IS NOT NULL ON CONFLICT (queue, key) DO NOTHING"
)


def claim_limited(c: sqlite3.Connection, spec: ClaimSpec, lease_key: str, now: float) -> list[Job]:
    """Lease the best queued jobs of the limited queues spec.limited, within their room."""
    found = _limited(c, spec.limited)
    rooms, rated = _rooms(c, found, spec.limit, now)
    candidates: list[Candidate] = []
    keyed: dict[str, KeyedChoice] = {}
    for queue, left in rooms.items():
        if not found[queue].keyed:
            candidates += limits.ranked((p, s, queue) for p, s in _heads(c, spec, queue, left))
            candidates += _overdue(c, spec, queue, found[queue], left, now)
            continue
        probes = _probes(c, spec, queue, found[queue], left, now)
        weights = dict(found[queue].weights)
        keyed[queue] = choice = limits.choose_keys(queue, probes, left, weights)
        candidates += choice.candidates
        if len(choice.candidates) < left:  # short: mend the head for the next claim
            c.execute(KEY_THE_HEAD, (queue,))
            c.execute(SEAT_THE_HEAD, (queue,))
    seqs = limits.within_room(candidates, rooms, spec.limit)
    for queue, choice in keyed.items():
        _take_turns(c, queue, choice, seqs)
    if not seqs:
        return []
    head = (spec.lease_seconds, lease_key, now, dumps(worker_dict(spec.worker)))
    rows = c.execute(LEASE.format(chosen=", ".join("?" for _ in seqs)), (*head, *seqs))
    jobs = opened(c, rows, now, head[3])
    started = Counter(job.queue for job in jobs if job.queue in rated)
    slots = [(q, limits.rate_slot(rated[q], now), n) for q, n in sorted(started.items())]
    c.executemany(RECORD_STARTS, slots)
    _record_key_starts(c, found, jobs, now)
    return jobs


def _record_key_starts(
    c: sqlite3.Connection, found: dict[str, QueueLimits], jobs: list[Job], now: float
) -> None:
    """Count the starts of each key of a queue with a per-key rate."""
    started = Counter(
        (job.queue, job.concurrency_key)
        for job in jobs
        if found[job.queue].key_rate is not None and job.concurrency_key  # not the key ''
    )
    for (queue, key), n in sorted(started.items()):
        period = found[queue].key_rate_period or 1.0
        c.execute(RECORD_KEY_STARTS, (queue, key, limits.slot_at(period, now), n))


def seat_keys(c: sqlite3.Connection, jobs: Sequence[Job]) -> None:
    """Give each new key of `jobs` its place in its queue's turns (a no-op for known keys)."""
    keys = {(j.queue, j.concurrency_key) for j in jobs if j.concurrency_key is not None}
    c.executemany(SEAT_KEY, sorted(keys))


def _limited(c: sqlite3.Connection, queues: Sequence[str]) -> dict[str, QueueLimits]:
    rows = c.execute(LIMITED, (dumps(list(queues)),)).fetchall()
    return {row[0]: queue_limits(row[1:]) for row in rows}


def _rooms(
    c: sqlite3.Connection, found: dict[str, QueueLimits], ceiling: int, now: float
) -> tuple[dict[str, int], dict[str, QueueLimits]]:
    """Each limited queue's room (those with some), and the rate-limited ones' limits."""
    rooms: dict[str, int] = {}
    rated: dict[str, QueueLimits] = {}
    for name, lim in found.items():
        started = 0
        since = limits.rate_since(lim, now)
        if since is not None:
            rated[name] = lim
            c.execute(FORGET_STARTS, (name, limits.forget_before(since, lim.rate_period or 0)))
            started = c.execute(STARTED, (name, since)).fetchone()[0]
        running = c.execute(RUNNING, (name,)).fetchone()[0] if lim.concurrency is not None else 0
        left = limits.room(lim, running, started, ceiling)
        if left > 0:
            rooms[name] = left
    return rooms, rated


def _heads(c: sqlite3.Connection, spec: ClaimSpec, queue: str, left: int) -> list[Any]:
    """The best queued jobs of `queue` this claim may take, (priority, seq) each."""
    take = min(left, spec.limit)
    if spec.ids is not None:
        return c.execute(BEST_NAMED, (queue, take, dumps(spec.ids))).fetchall()
    if spec.types is None:
        return c.execute(BEST, (queue, take)).fetchall()
    rows: list[Any] = []
    for kind in spec.types:
        rows += c.execute(BEST_OF_TYPE, (queue, take, kind)).fetchall()
    return rows


def _overdue(
    c: sqlite3.Connection, spec: ClaimSpec, queue: str, lim: QueueLimits, left: int, now: float
) -> list[Candidate]:
    """The queue's jobs waiting longer than its aging, as candidates before any priority."""
    if lim.aging is None:
        return []
    take = min(left, spec.limit)
    if spec.ids is not None:
        rows = c.execute(OLDEST_NAMED, (queue, take, dumps(spec.ids)))
    elif spec.types is not None:
        rows = c.execute(OLDEST_OF_TYPES, (queue, take, dumps(spec.types)))
    else:
        rows = c.execute(OLDEST, (queue, take))
    return limits.aged(rows.fetchall(), queue, now - lim.aging)


def _probes(
    c: sqlite3.Connection,
    spec: ClaimSpec,
    queue: str,
    lim: QueueLimits,
    want: int,
    now: float,
) -> Iterator[KeyProbe]:
    """The keys of `queue` in turn, each probed as the claim comes to it."""
    keys = c.execute(KEYS, (queue, want + KEY_WINDOW)).fetchall()
    weights = dict(lim.weights)
    since = limits.key_rate_since(lim, now)
    if since is not None:
        c.execute(FORGET_KEY_STARTS, (queue, limits.forget_before(since, lim.key_rate_period or 0)))
    for key, served in keys:
        running = c.execute(KEY_RUNNING, (queue, key)).fetchone()[0] if key != UNKEYED else 0
        started = 0
        if since is not None and key != UNKEYED:
            started = c.execute(KEY_STARTED, (queue, key, since)).fetchone()[0]
        share = limits.key_share(want, len(keys), weights.get(key, 1))
        take = limits.key_room(lim, key, running, started, want, share)
        heads = _key_heads(c, spec, queue, key, take) if take else []
        live = bool(heads) or c.execute(KEY_LIVE, (queue, key)).fetchone() is not None
        yield KeyProbe(key, running, heads, live, served)


def _key_heads(
    c: sqlite3.Connection, spec: ClaimSpec, queue: str, key: str, take: int
) -> list[Any]:
    if spec.ids is not None:
        return c.execute(KEY_BEST_NAMED, (queue, take, dumps(spec.ids), key)).fetchall()
    if spec.types is not None:
        return c.execute(KEY_BEST_OF_TYPES, (queue, take, dumps(spec.types), key)).fetchall()
    return c.execute(KEY_BEST, (queue, take, None, key)).fetchall()


def _take_turns(c: sqlite3.Connection, queue: str, choice: KeyedChoice, seqs: list[int]) -> None:
    """Keys passed over or done with their turn go to the back, keys without work leave."""
    c.executemany(FORGET_KEY, [(queue, key) for key in choice.gone])
    back, stay = limits.next_turns(choice, seqs)
    c.executemany(TO_THE_BACK, [(queue, key) for key in back])
    c.executemany(KEEP_THE_FRONT, [(queue, key, served) for key, served in stay.items()])
