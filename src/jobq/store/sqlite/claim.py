"""The SQLite claim: lease the best queued jobs of the asked queues and types.

The common claim is ONE statement: an UPDATE ... RETURNING whose WHERE holds, per (queue,
type), an ordered and limited subquery on the claim index (a range scan, O(log n) however long
the backlog), skipping paused queues. A claim over more pairs than that statement holds (a
worker of "any queue" of thousands) is first narrowed, on a reader: one statement reads each
pair's best job (one index step each, in SQLite's C loop) and keeps the queues of the best
`limit` of them, where the best `limit` jobs overall must lie; the writer then claims from
those few. The single writer never walks the whole list of queues. One statement, not a read
of the paused queues and a query per (queue, type) before the update: each statement costs the
writer thread a release and a retake of the GIL, which the event loop holds most of the time
under load. A claim of named jobs, or of more (queue, type) pairs than one statement should
hold after narrowing, still chooses first, then leases. A claim of every queue (`queues`
None) names none: one statement reads the first queued jobs of all queues in the claim order
through one index (`jobs_claim_all`), its limit and WINDOW more, and leases the best of them
that are not paused queues' jobs or other types'. Those are other tenants' jobs, so the writer
never reads past that window: a claim it leaves short while more may lie beyond (`cut_short`)
claims the rest as a claim of every queue listed by name, narrowed on a reader.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any

from jobq.model import ClaimSpec, Job, QueueLimits, Worker
from jobq.store import limits
from jobq.store.lease_sql import LEASED, LeaseParams
from jobq.store.rows import JOB_COLUMNS, dumps, job_from_row, worker_dict, worker_values
from jobq.store.sqlite.many import insert_rows

MAX_PAIRS = 32  # (queue, type) pairs one claim statement serves (SQLite allows 500 arms)

# ?1 lease seconds (None: the job's own), ?2 lease key, ?3 now, ?4 worker. The claim's UPDATE
# and the hand-over's INSERT (sqlite_handover) both lease with these.
PARAMS = LeaseParams(seconds="?1", now="?3", worker="?4")
TOKEN = "?2 || '.' || {row}.seq"  # the lease key and the job's seq


def leased(column: str, row: str) -> str:
    """The value a claim gives `column` of the job `row` (the column itself if untouched)."""
    return TOKEN.format(row=row) if column == "lease_token" else PARAMS.leased(column, row)


# {chosen} selects the seqs to lease; parameters without a number there take 5, 6, ... in order
_LEASE_SET = ",\n    ".join(f"{c} = {leased(c, 'jobs')}" for c in (*LEASED, "lease_token"))
LEASE = f"""
UPDATE jobs SET
    {_LEASE_SET}
WHERE seq IN ({{chosen}}) AND state = 'queued'
RETURNING {", ".join(JOB_COLUMNS)}"""

# A released attempt gave its number back (release does not count it); the next claim of the
# job reuses that number, so its row is started afresh.
ATTEMPT_HEAD = "INSERT INTO attempts (job_id, attempt, started_at, worker)"
ATTEMPT_AGAIN = """
ON CONFLICT (job_id, attempt) DO UPDATE SET started_at = excluded.started_at,
    worker = excluded.worker, finished_at = NULL, outcome = NULL, error = NULL
"""

NOT_PAUSED = "queue NOT IN (SELECT name FROM queues WHERE paused = 1)"
# a paused queue's best jobs: none, by a limit of 0 (the limit is computed once, before the
# scan; a test of each row as the scan's condition walked all of the paused queue's jobs)
_OPEN_LIMIT = "iif({queue} IN (SELECT name FROM queues WHERE paused = 1), 0, {limit})"
BEST_OF_QUEUE = (
    "SELECT priority, seq FROM jobs INDEXED BY jobs_claim WHERE state = 'queued' "
    f"AND queue = {{queue}} ORDER BY priority DESC, seq LIMIT {_OPEN_LIMIT}"
)
BEST_OF_TYPE = (
    "SELECT priority, seq FROM jobs INDEXED BY jobs_claim_type WHERE state = 'queued' "
    f"AND queue = {{queue}} AND type = {{type}} ORDER BY priority DESC, seq LIMIT {_OPEN_LIMIT}"
)

# A claim of every queue reads at most its limit and WINDOW more entries of jobs_claim_all on
# the writer: the paused queues' and other types' jobs ahead of the claimable ones are other
# tenants' data, and walking all of them would make the claim (and every write queued behind
# it) cost what they hold. A claim the window leaves short, the window full, claims the rest
# through the listed path (`narrow`, on a reader).
WINDOW = 256
# the first ?5 + WINDOW queued jobs of all queues in claim order (the state tested as
# jobs_claim_all's predicate says it: 0008_claim_every_queue.sql)
_WINDOW = (
    "SELECT priority, seq, queue, type FROM jobs INDEXED BY jobs_claim_all "
    f"WHERE coalesce(state, '') = 'queued' ORDER BY priority DESC, seq LIMIT ?5 + {WINDOW}"
)
# the best ?5 of them that a claim may take (of the JSON list of types ?6)
BEST_OF_ALL = (
    f"SELECT seq FROM ({_WINDOW}) WHERE {NOT_PAUSED} {{typed}}ORDER BY priority DESC, seq LIMIT ?5"
)
LEASE_BEST_OF_ALL = LEASE.format(chosen=BEST_OF_ALL.format(typed=""))
LEASE_BEST_OF_ALL_TYPES = LEASE.format(
    chosen=BEST_OF_ALL.format(typed="AND type IN (SELECT value FROM json_each(?6)) ")
)
# whether at least ?1 + 1 queued jobs remain in jobs_claim_all (one index step per job)
_QUEUED_PAST = (
    "SELECT 1 FROM jobs INDEXED BY jobs_claim_all WHERE coalesce(state, '') = 'queued' "
    "ORDER BY priority DESC, seq LIMIT 1 OFFSET ?1"
)


# each (queue, type)'s best queued job, the best ?2 of them: their queues (?1 queues and ?3
# types as JSON lists); a paused queue has none
_HEAD = "SELECT seq FROM jobs INDEXED BY {index} WHERE state = 'queued' AND queue = q.value {typed}"
_HEADS = """
SELECT DISTINCT queue FROM (
    SELECT j.queue, j.priority, j.seq FROM json_each(?1) AS q {types}
    JOIN jobs AS j ON j.seq = ({head} ORDER BY priority DESC, seq LIMIT 1)
    WHERE q.value NOT IN (SELECT name FROM queues WHERE paused = 1)
    ORDER BY j.priority DESC, j.seq LIMIT ?2)
"""
HEADS = _HEADS.format(types="", head=_HEAD.format(index="jobs_claim", typed=""))
HEADS_OF_TYPES = _HEADS.format(
    types="CROSS JOIN json_each(?3) AS t",
    head=_HEAD.format(index="jobs_claim_type", typed="AND type = t.value"),
)


def is_wide(spec: ClaimSpec) -> bool:
    """Whether the claim names more (queue, type) pairs than one claim statement holds."""
    if spec.ids is not None or spec.queues is None:
        return False
    return len(spec.queues) * len(spec.types or [None]) > MAX_PAIRS


def narrow(c: sqlite3.Connection, spec: ClaimSpec) -> list[str]:
    """The queues among spec.queues where the best spec.limit jobs are (a read)."""
    queues = dumps(spec.queues or [])
    if spec.types:
        rows = c.execute(HEADS_OF_TYPES, (queues, spec.limit, dumps(spec.types)))
    else:
        rows = c.execute(HEADS, (queues, spec.limit))
    return [r[0] for r in rows]


def claim(
    c: sqlite3.Connection,
    spec: ClaimSpec,
    lease_key: str,
    now: float,
    touch: bool = True,
    among: Sequence[str] | None = None,
) -> list[Job]:
    """Lease up to spec.limit jobs, best first; `touch`: also record the worker as seen.
    `among`: claim only from these of spec.queues (a wide claim's narrowing). The limited
    queues (spec.limited) are served first, within their room (jobq.store.limits)."""
    if touch:
        touch_worker(c, spec.worker, spec.queues, now)
    first = claim_limited(c, spec, lease_key, now) if spec.limited else []
    if len(first) >= spec.limit:
        return first
    if first:
        spec = replace(spec, limit=spec.limit - len(first))
    return first + _claim_open(c, spec, lease_key, now, among)


def _claim_open(
    c: sqlite3.Connection,
    spec: ClaimSpec,
    lease_key: str,
    now: float,
    among: Sequence[str] | None,
) -> list[Job]:
    """The claim from the queues open to the claim statements (neither paused nor limited)."""
    worker = dumps(worker_dict(spec.worker))
    head = (spec.lease_seconds, lease_key, now, worker)
    queues = spec.queues if among is None else among
    if queues is None:
        rows = c.execute(*_lease_best_of_all(spec, head))
        return _opened(c, rows, now, worker)
    if not queues:
        return []
    kinds: Sequence[str | None] = spec.types or [None]
    pairs = [(queue, kind) for queue in queues for kind in kinds]
    if spec.ids is None and len(pairs) <= MAX_PAIRS:
        params = [*head, spec.limit, *(p for pair in pairs for p in pair if p is not None)]
        rows = c.execute(_lease_best(tuple(kind is not None for _, kind in pairs)), params)
    else:
        chosen = _choose(c, spec, queues)
        if not chosen:
            return []
        rows = c.execute(LEASE.format(chosen=", ".join("?" for _ in chosen)), (*head, *chosen))
    return _opened(c, rows, now, worker)


def claim_every_queue(
    c: sqlite3.Connection, spec: ClaimSpec, lease_key: str, now: float, touch: bool = True
) -> tuple[list[Job], bool]:
    """A claim of every queue within its window: the jobs leased, and whether it was cut
    short (fewer than spec.limit, with claimable jobs possibly beyond the window)."""
    claimed = claim(c, spec, lease_key, now, touch)
    return claimed, cut_short(c, spec, len(claimed))


def cut_short(c: sqlite3.Connection, spec: ClaimSpec, leased: int) -> bool:
    """Whether a claim of every queue that just leased `leased` jobs stopped at its window
    short of spec.limit: the window was full, so more claimable jobs may lie beyond it. The
    leased jobs left the index, so the window was full if limit + WINDOW - leased remain."""
    if leased >= spec.limit:
        return False
    row = c.execute(_QUEUED_PAST, (spec.limit + WINDOW - leased - 1,)).fetchone()
    return row is not None


def _lease_best_of_all(spec: ClaimSpec, head: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
    """The lease of the best jobs of every queue (a claim of every queue, of named jobs
    none: those name their queues)."""
    if spec.ids is not None:
        raise ValueError("a claim of named jobs names their queues")
    if spec.types is None:
        return LEASE_BEST_OF_ALL, (*head, spec.limit)
    return LEASE_BEST_OF_ALL_TYPES, (*head, spec.limit, dumps(spec.types))


def _opened(c: sqlite3.Connection, rows: Iterable[Any], now: float, worker: str) -> list[Job]:
    """The leased `rows` as jobs, best first, each with its attempt opened."""
    claimed = sorted((job_from_row(r) for r in rows), key=lambda j: (-j.priority, j.seq))
    attempts = [(job.id, job.attempt, now, worker) for job in claimed]
    insert_rows(c, ATTEMPT_HEAD, 4, attempts, ATTEMPT_AGAIN)
    return claimed


@lru_cache(maxsize=64)
def _lease_best(typed: tuple[bool, ...]) -> str:
    """The lease of the best jobs over one subquery per (queue, type) pair; `typed` says which
    pairs name a type. ?5 is the limit, then come each pair's queue (and type)."""
    arms = []
    at = 6
    for has_type in typed:
        if has_type:
            arm = BEST_OF_TYPE.format(queue=f"?{at}", type=f"?{at + 1}", limit="?5")
        else:
            arm = BEST_OF_QUEUE.format(queue=f"?{at}", limit="?5")
        arms.append(f"SELECT priority, seq FROM ({arm})")
        at += 1 + has_type
    chosen = f"SELECT seq FROM ({' UNION ALL '.join(arms)}) ORDER BY priority DESC, seq LIMIT ?5"
    return LEASE.format(chosen=chosen)


def _choose(c: sqlite3.Connection, spec: ClaimSpec, queues: Sequence[str]) -> list[int]:
    """The seqs to lease, best first, chosen by a query per queue (and type) of `queues`."""
    paused = {r[0] for r in c.execute("SELECT name FROM queues WHERE paused = 1")}
    candidates: list[tuple[int, int]] = []
    for queue in queues:
        if queue in paused:
            continue
        if spec.ids is not None:
            candidates += _named(c, queue, spec.ids)
            continue
        for kind in spec.types or [None]:  # type: ignore[list-item]
            candidates += _best(c, queue, kind, spec.limit)
    candidates.sort(key=lambda pc: (-pc[0], pc[1]))
    return [seq for _, seq in candidates[: spec.limit]]


def _best(c: sqlite3.Connection, queue: str, kind: str | None, limit: int) -> list[tuple[int, int]]:
    if kind is None:
        sql = BEST_OF_QUEUE.format(queue="?1", limit="?2")
        return c.execute(sql, (queue, limit)).fetchall()
    sql = BEST_OF_TYPE.format(queue="?1", type="?2", limit="?3")
    return c.execute(sql, (queue, kind, limit)).fetchall()


def _named(c: sqlite3.Connection, queue: str, ids: Sequence[str]) -> list[tuple[int, int]]:
    """The queued jobs among `ids` in `queue` (a claim of named jobs)."""
    marks = ", ".join("?" for _ in ids)
    sql = f"SELECT priority, seq FROM jobs WHERE state = 'queued' AND queue = ? AND id IN ({marks})"
    return c.execute(sql, (queue, *ids)).fetchall()


# --- the limited claim (jobq.store.limits): limited queues' jobs, within each queue's room ---

LIMITED = (
    "SELECT name, concurrency, rate, rate_period FROM queues "
    "WHERE name IN (SELECT value FROM json_each(?1)) AND operator_paused = 0 "
    "AND (concurrency IS NOT NULL OR rate IS NOT NULL) ORDER BY name"
)
RUNNING = (
    "SELECT count(*) FROM jobs INDEXED BY jobs_queue_state WHERE queue = ?1 AND state = 'running'"
)
FORGET_STARTS = "DELETE FROM queue_starts WHERE queue = ?1 AND at <= ?2"
STARTED = "SELECT count(*) FROM queue_starts WHERE queue = ?1 AND at > ?2"
RECORD_START = "INSERT INTO queue_starts (queue, at) VALUES (?, ?)"
LIMITED_BEST = (
    "SELECT priority, seq, queue FROM jobs INDEXED BY jobs_claim WHERE state = 'queued' "
    "AND queue = ?1 ORDER BY priority DESC, seq LIMIT ?2"
)
LIMITED_BEST_OF_TYPE = (
    "SELECT priority, seq, queue FROM jobs INDEXED BY jobs_claim_type WHERE state = 'queued' "
    "AND queue = ?1 AND type = ?3 ORDER BY priority DESC, seq LIMIT ?2"
)
LIMITED_NAMED = (
    "SELECT priority, seq, queue FROM jobs WHERE state = 'queued' AND queue = ?1 "
    "AND id IN (SELECT value FROM json_each(?3)) ORDER BY priority DESC, seq LIMIT ?2"
)


def claim_limited(c: sqlite3.Connection, spec: ClaimSpec, lease_key: str, now: float) -> list[Job]:
    """Lease the best queued jobs of the limited queues spec.limited, within their room."""
    rooms, rated = _rooms(c, spec.limited, now)
    candidates = [row for queue, left in rooms.items() for row in _heads(c, spec, queue, left)]
    seqs = limits.within_room(candidates, rooms, spec.limit)
    if not seqs:
        return []
    head = (spec.lease_seconds, lease_key, now, dumps(worker_dict(spec.worker)))
    rows = c.execute(LEASE.format(chosen=", ".join("?" for _ in seqs)), (*head, *seqs))
    jobs = _opened(c, rows, now, head[3])
    starts = [(job.queue, now) for job in jobs if job.queue in rated]
    c.executemany(RECORD_START, starts)
    return jobs


def _rooms(
    c: sqlite3.Connection, queues: Sequence[str], now: float
) -> tuple[dict[str, int], set[str]]:
    """Each limited queue's room (those with some), and the rate-limited ones."""
    rooms: dict[str, int] = {}
    rated: set[str] = set()
    for name, concurrency, rate, period in c.execute(LIMITED, (dumps(list(queues)),)).fetchall():
        lim = QueueLimits(concurrency, rate, period)
        started = 0
        since = limits.rate_since(lim, now)
        if since is not None:
            rated.add(name)
            c.execute(FORGET_STARTS, (name, since))
            started = c.execute(STARTED, (name, since)).fetchone()[0]
        running = c.execute(RUNNING, (name,)).fetchone()[0] if concurrency is not None else 0
        left = limits.room(lim, running, started)
        if left > 0:
            rooms[name] = left
    return rooms, rated


def _heads(c: sqlite3.Connection, spec: ClaimSpec, queue: str, left: int) -> list[Any]:
    """The best queued jobs of `queue` this claim may take, (priority, seq, queue) each."""
    take = min(left, spec.limit)
    if spec.ids is not None:
        return c.execute(LIMITED_NAMED, (queue, take, dumps(spec.ids))).fetchall()
    if spec.types is None:
        return c.execute(LIMITED_BEST, (queue, take)).fetchall()
    rows: list[Any] = []
    for kind in spec.types:
        rows += c.execute(LIMITED_BEST_OF_TYPE, (queue, take, kind)).fetchall()
    return rows


def touch_worker(
    c: sqlite3.Connection, worker: Worker, queues: Sequence[str] | None, now: float
) -> None:
    """Record `worker` as seen at `now`, asking for `queues` (None: every queue)."""
    c.execute(
        "INSERT INTO workers (name, host, pid, queues, last_seen, slots) "
        "VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (name, host, pid) DO UPDATE SET queues = excluded.queues, "
        "last_seen = excluded.last_seen, slots = excluded.slots",
        worker_values(worker, queues, now),
    )
