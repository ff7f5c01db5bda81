"""The PostgreSQL store's writes, each inside one transaction: inserts, transitions, deletes,
purges, log appends and the callback outbox.

A batch of decided steps is written in a few statements (`Writes`): decisions that set the
same columns from the same allowed states go out as one UPDATE, one array per column whose
value differs between them (one value for a column they share), which also closes their
attempts; callbacks are one INSERT. A batch is then the read of its rows (FOR UPDATE) and one
statement per shape; a single acknowledgement is two round trips.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from jobq import loglimit
from jobq.model import Callback, Job, Step, StepResult
from jobq.states import State
from jobq.store import retries
from jobq.store.decide import Decided, decide_all
from jobq.store.job_sql import POSTGRES as SQL
from jobq.store.postgres.conn import Conn
from jobq.store.postgres.limited import seat_keys
from jobq.store.postgres.sql import (
    INSERT_MANY,
    INSERT_MANY_AND_QUEUES,
    INSERT_UNIQUE,
    SELECT_JOB,
    STATE_BY_KEY,
)
from jobq.store.rows import INSERT_COLUMNS, dumps, encode, job_from_row, job_values

# the type of each jobs column (0001_init.sql), for the casts of the unnest arrays
_COLUMNS_OF_TYPE = {
    "text": "id queue type payload metadata state result error progress callback_url owner "
    "lease_token worker cancel_reason retry_of retried_by unique_key concurrency_key",
    "bigint": "seq priority max_attempts attempt exit_code",
    "integer": "cancel_requested",
    "double precision": "run_at lease_seconds deadline_seconds backoff_base backoff_max "
    "result_ttl created_at updated_at started_at finished_at last_heartbeat_at "
    "lease_expires_at deadline_at purge_at",
}
COLUMN_TYPES = {name: kind for kind, names in _COLUMNS_OF_TYPE.items() for name in names.split()}

Shape = tuple[tuple[str, ...], tuple[str, ...]]  # (columns set, states allowed)


class Writes:
    """Decisions waiting to be written, grouped by shape."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.rows: dict[Shape, list[list[Any]]] = {}
        self.callbacks: list[tuple[str, str]] = []
        self.spawns: list[Job] = []  # new jobs the plans make (respawn on failure)

    def add(self, decided: Decided) -> None:
        job, plan, changes = decided.moved.job, decided.plan, decided.changes
        outcome, error = plan.attempt_outcome, None
        if outcome is not None:
            error = encode("error", plan.attempt_error)
        values = [encode(k, v) for k, v in changes.items()]
        self.rows.setdefault(decided.shape, []).append(
            [*values, job.id, outcome, error, decided.attempt, job.seq]
        )
        if plan.callback and job.callback_url:
            self.callbacks.append((job.id, job.callback_url))
        if plan.spawn is not None:
            self.spawns.append(plan.spawn)

    async def flush(self, c: Conn) -> list[Job]:
        """Write what is waiting; the jobs to spawn, for the caller to insert."""
        for (columns, allowed), rows in self.rows.items():
            moved = await c.fetchval(*update(columns, allowed, rows, self.now))
            if moved != len(rows):  # the rows are locked and were decided as they are
                raise RuntimeError("compare-and-set failed on rows locked FOR UPDATE")
        if self.callbacks:
            ids, urls = (list(column) for column in zip(*self.callbacks, strict=True))
            await c.execute(
                "INSERT INTO callbacks (job_id, url, next_at) "
                "SELECT unnest($1::text[]), unnest($2::text[]), $3",
                ids,
                urls,
                self.now,
            )
        return self.spawns


def update(
    columns: tuple[str, ...], allowed: tuple[str, ...], rows: list[list[Any]], now: float
) -> tuple[Any, ...]:
    """The batch UPDATE of `rows` (as `Writes.add` lays them out) and its parameters. A
    column whose value is the same for every row goes as one value, not an array: most of an
    acknowledgement's are (its state, times, the cleared lease), and an array of text or
    with NULLs is read from its start for each row that takes its element."""
    arrays = [list(column) for column in zip(*rows, strict=True)]
    values = arrays[: len(columns)]
    varying = tuple(column.count(column[0]) != len(column) for column in values)
    shared = [c if varies else c[0] for c, varies in zip(values, varying, strict=True)]
    return update_sql(columns, varying), *shared, *arrays[len(columns) :], list(allowed), now


@lru_cache(maxsize=256)
def update_sql(columns: tuple[str, ...], varying: tuple[bool, ...]) -> str:
    """Set `columns` of the jobs whose seqs are in $n+5 (their ids in $n+1, the outcome of
    the attempt each closes or NULL in $n+2, its error in $n+3, its number in $n+4) if their
    state is in $n+6; close those attempts as finished at $n+7. Column i's value is $i, or,
    where `varying[i]`, the element of the array $i at the job's position. Returns how many
    jobs it updated.

    The jobs are found by `seq = ANY` of their seqs (the state tested as STATE_BY_KEY, so
    that no state index looks cheaper) and each takes its varying values from the arrays at
    its seq's position (`array_position`, integers compared), not by a join to the values:
    joined, the generic plan (which guesses ten jobs) rescanned every value row for each
    job, copying the whole row each time (O(batch squared); 100 acknowledgements cost
    PostgreSQL ~6 ms that way, ~3.7 this way). The attempts are closed from the value rows
    (read once) of the jobs that moved, each attempt found by its key. Joined to `unnest` in
    the FROM instead, the plan a connection keeps from its first batches, made while the
    attempts table is nearly empty, reads it whole for every batch ever after (no ANALYZE
    replaces it: measured end to end on a database of 1.2 million jobs, claims of 1 fell by
    a third in three rounds)."""
    n = len(columns)
    ids, seqs = f"${n + 1}::text[]", f"${n + 5}::bigint[]"
    values = ", ".join(
        f"(${i}::{COLUMN_TYPES[c]}[])[p.i]" if varies else f"${i}::{COLUMN_TYPES[c]}"
        for i, (c, varies) in enumerate(zip(columns, varying, strict=True), 1)
    )
    position = f" FROM (SELECT array_position({seqs}, jobs.seq) AS i) AS p" if any(varying) else ""
    closing = f"{ids}, ${n + 2}::text[], ${n + 3}::text[], ${n + 4}::bigint[]"
    return (
        f"WITH v AS (SELECT * FROM unnest({closing}) AS v (id, outcome, error, attempt)), "
        f"moved AS (UPDATE jobs SET ({', '.join(columns)}) = (SELECT {values}{position}) "
        f"WHERE jobs.seq = ANY({seqs}) AND {STATE_BY_KEY} = ANY(${n + 6}::text[]) "
        "RETURNING jobs.id), "
        f"closed AS (UPDATE attempts SET finished_at = ${n + 7}, outcome = v.outcome, "
        "error = v.error FROM v WHERE v.outcome IS NOT NULL AND attempts.job_id = v.id "
        "AND attempts.attempt = v.attempt AND v.id IN (SELECT id FROM moved)) "
        "SELECT count(*) FROM moved"
    )


async def insert(c: Conn, jobs: Sequence[Job], now: float) -> list[tuple[Job, bool]]:
    queues = sorted({j.queue for j in jobs})
    taken = await _retries_taken(c, jobs)
    fresh = [j for j in jobs if j.id not in taken] if taken else jobs
    if all(j.unique_key is None for j in fresh):  # the usual batch: one statement
        await _insert_plain(c, list(fresh), (queues, now))
        made = [(job, True) for job in fresh]
    else:
        made = await _insert_mixed(c, fresh, queues, now)
    out = made
    if taken:
        inserted = iter(made)
        out = [(taken[j.id], False) if j.id in taken else next(inserted) for j in jobs]
    links = [(j.id, j.retry_of) for j, created in out if created and j.retry_of is not None]
    if links:
        news, olds = (list(column) for column in zip(*links, strict=True))
        await c.execute(LINK_RETRIES, news, olds)
    if any(j.concurrency_key is not None for j in jobs):
        await seat_keys(c, [j for j, created in out if created])
    return out


async def _retries_taken(c: Conn, jobs: Sequence[Job]) -> dict[str, Job]:
    """The retries among `jobs` whose source has a retry already (jobq.store.retries). The
    sources are locked first: a concurrent retry of one of them commits before this reads
    what their `retried_by` names."""
    sources = retries.sources_of(jobs)
    if not sources:
        return {}
    rows = await c.fetch(LOCK_SOURCES, sorted(sources))
    links = {r["id"]: r["retried_by"] for r in rows}
    named = [v for v in links.values() if v is not None]
    existing: dict[str, Job] = {}
    if named:
        for row in await c.fetch(f"{SELECT_JOB} WHERE id = ANY($1::text[])", named):
            existing[row["id"]] = job_from_row(row)
    return retries.taken(jobs, links, existing)


LOCK_SOURCES = "SELECT id, retried_by FROM jobs WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE"
LINK_RETRIES = (
    "UPDATE jobs SET retried_by = v.new FROM unnest($1::text[], $2::text[]) AS v (new, old) "
    "WHERE jobs.id = v.old"
)


async def _insert_mixed(
    c: Conn, jobs: Sequence[Job], queues: list[str], now: float
) -> list[tuple[Job, bool]]:
    """A batch holding jobs with a unique key: those one by one, the others in runs."""
    await c.execute(
        "INSERT INTO queues (name, paused, updated_at) SELECT unnest($1::text[]), 0, $2 "
        "ON CONFLICT (name) DO NOTHING",
        queues,
        now,
    )
    out: list[tuple[Job, bool]] = []
    plain: list[Job] = []
    for job in jobs:
        if job.unique_key is None:
            plain.append(job)
            out.append((job, True))
            continue
        await _insert_plain(c, plain)
        plain = []
        out.append(await _insert_unique(c, job))
    await _insert_plain(c, plain)
    return out


async def _insert_plain(
    c: Conn, jobs: list[Job], new_queues: tuple[list[str], float] | None = None
) -> None:
    """Insert `jobs` in one statement; `new_queues` (names, now): record those queues too."""
    if not jobs:
        return
    rows = [job_values(j) for j in jobs]
    columns = [list(col) for col in zip(*rows, strict=True)]
    assert len(columns) == len(INSERT_COLUMNS)
    if new_queues is None:
        found = await c.fetch(INSERT_MANY, *columns)
    else:
        found = await c.fetch(INSERT_MANY_AND_QUEUES, *columns, *new_queues)
    seqs = {r["id"]: r["seq"] for r in found}
    for job in jobs:
        job.seq = seqs[job.id]


async def _insert_unique(c: Conn, job: Job) -> tuple[Job, bool]:
    seq = await c.fetchval(INSERT_UNIQUE, *job_values(job))
    if seq is not None:
        job.seq = seq
        return job, True
    row = await c.fetchrow(SQL.live_by_unique_key, job.unique_key)
    if row is None:  # the holder finished between the two statements: try once more
        return await _insert_unique(c, job)
    return job_from_row(row), False


async def transition(c: Conn, steps: Sequence[Step], now: float) -> list[StepResult]:
    """Decide every step on the rows as they are (locked), then write the decisions grouped
    (`Writes`)."""
    ids = sorted({s.job_id for s in steps})
    if len(ids) == 1:  # PostgreSQL plans `= ANY($1)` anew on every call (a custom plan)
        rows = await c.fetch(f"{SELECT_JOB} WHERE id = $1 FOR UPDATE", ids[0])
    else:
        rows = await c.fetch(f"{SELECT_JOB} WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE", ids)
    current = {r["id"]: job_from_row(r) for r in rows}
    results, rounds = decide_all(steps, current, now)
    for decisions in rounds:
        writes = Writes(now)
        for decided in decisions:
            writes.add(decided)
        await _write(c, writes)
    return results


async def _write(c: Conn, writes: Writes) -> None:
    spawns = await writes.flush(c)
    if spawns:
        await insert(c, spawns, writes.now)


async def delete(c: Conn, ids: Sequence[str], allowed: frozenset[State]) -> list[State | None]:
    rows = await c.fetch(
        "SELECT id, state FROM jobs WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE",
        sorted(set(ids)),
    )
    states = {r["id"]: State(r["state"]) for r in rows}
    doomed = [i for i, s in states.items() if s in allowed]
    await _delete_rows(c, doomed)
    return [states.get(i) for i in ids]


async def _delete_rows(c: Conn, ids: Sequence[str]) -> None:
    if ids:
        await c.execute("DELETE FROM jobs WHERE id = ANY($1::text[])", list(ids))
        await c.execute("DELETE FROM attempts WHERE job_id = ANY($1::text[])", list(ids))
        await c.execute("DELETE FROM logs WHERE job_id = ANY($1::text[])", list(ids))


async def purge(c: Conn, now: float, limit: int) -> int:
    rows = await c.fetch(f"{SQL.due_purge} FOR UPDATE SKIP LOCKED", now, limit)
    ids = [r[0] for r in rows]
    await _delete_rows(c, ids)
    return len(ids)


async def append_logs(
    c: Conn,
    job_id: str,
    entries: Sequence[tuple[float, str, str]],
    attempt: int,
    max_bytes: int | None,
) -> int:
    # appends to one job from several nodes take turns, so seq numbers and sizes never collide
    await c.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", job_id)
    last = await c.fetchval(SQL.last_log_seq, job_id)
    used = await c.fetchval(SQL.log_bytes, job_id)
    kept, size = loglimit.admit(entries, used or 0, max_bytes)
    if not kept:
        return int(last)
    times, streams, texts = ([e[i] for e in kept] for i in range(3))
    await c.execute(
        "INSERT INTO logs (job_id, seq, attempt, time, stream, text) "
        "SELECT $1, $2 + n, $3, t, s, x "
        "FROM unnest($4::float8[], $5::text[], $6::text[]) WITH ORDINALITY AS e(t, s, x, n)",
        job_id,
        last,
        attempt,
        [float(t) for t in times],
        streams,
        texts,
    )
    await c.execute(SQL.set_log_bytes, size, job_id)
    return int(last) + len(kept)


async def fail_unprocessable(
    c: Conn, job_id: str, error: dict[str, Any], now: float, purge_at: float | None
) -> bool:
    text = dumps(error)
    status = await c.execute(SQL.fail_unprocessable, text, now, purge_at, job_id)
    await c.execute(SQL.end_attempt, now, text, job_id)
    return bool(status != "UPDATE 0")


async def due_callbacks(c: Conn, now: float, limit: int, lease: float) -> list[Callback]:
    """Due callbacks, leased to this node: another node sees them again only if this one
    neither reports them sent nor failed within `lease` seconds (it died)."""
    rows = await c.fetch(LEASE_CALLBACKS, now, limit, lease)
    return sorted((Callback(*r) for r in rows), key=lambda cb: (cb.next_at, cb.id))


LEASE_CALLBACKS = """
WITH due AS (
    SELECT id, next_at FROM callbacks WHERE next_at <= $1
    ORDER BY next_at LIMIT $2 FOR UPDATE SKIP LOCKED
)
UPDATE callbacks SET next_at = $1 + $3 FROM due WHERE callbacks.id = due.id
RETURNING callbacks.id, job_id, url, attempts, due.next_at"""


async def callback_failed(c: Conn, callback_id: int, next_at: float | None, error: str) -> None:
    if next_at is None:
        await c.execute(SQL.delete_callback, callback_id)
    else:
        await c.execute(SQL.retry_callback, next_at, error, callback_id)
