"""The PostgreSQL store: many jobq servers on one database.

The same semantics as the SQLite store (the integration suite runs against both); what differs
is how concurrency is made safe when several processes write at once:

- transition() locks the rows of all its steps up front, in id order (so two batches never
  deadlock), then applies each step as in SQLite: token check, decide, compare-and-set UPDATE.
- claim() takes rows with FOR UPDATE SKIP LOCKED on the partial index jobs_claim, so claimers
  never wait on each other and never take the same job.
- background duties on many nodes are safe because every move is a compare-and-set; callback
  rows are leased (next_at moved ahead) so two nodes never deliver the same callback.
- a worker's acknowledge-and-claim requests that arrive together run as one transaction
  (jobq.store.combine): at most two at once per server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

from jobq import loglimit
from jobq.errors import StoreUnavailable
from jobq.model import (
    Attempt,
    Callback,
    ClaimSpec,
    FinishedCount,
    Job,
    JobQuery,
    LogEntry,
    QueueStats,
    Step,
    StepResult,
    TypeActivity,
    Worker,
    WorkerSeen,
)
from jobq.states import State
from jobq.store.base import Store
from jobq.store.combine import Combiner, Outcome, Request, together
from jobq.store.decide import decide_all
from jobq.store.handover import can_hand_over
from jobq.store.postgres_conn import LATEST, Conn, Database, migrate, schema_version
from jobq.store.postgres_handover import hand_over
from jobq.store.postgres_sql import (
    CLAIM,
    CLAIM_PICKED,
    INSERT_MANY,
    INSERT_MANY_AND_QUEUES,
    INSERT_UNIQUE,
    LIVE_SQL,
    LOCK_NAMED,
    NEXT_DUE,
    OLDEST_QUEUED,
    OPEN_ATTEMPTS,
    SELECT_JOB,
    TOUCH_WORKER,
    count_sql,
    list_sql,
)
from jobq.store.postgres_vacuum import advice, vacuum_gaps
from jobq.store.postgres_writes import Writes
from jobq.store.rows import (
    INSERT_COLUMNS,
    attempt_from_row,
    dumps,
    job_from_row,
    job_values,
    worker_dict,
    worker_values,
)
from jobq.store.seen import SeenWorkers, recording

FAIL_UNPROCESSABLE = (
    "UPDATE jobs SET state = 'failed', error = $1, finished_at = $2, updated_at = $2, "
    "purge_at = $3, lease_token = NULL, lease_expires_at = NULL, cancel_requested = 0 "
    f"WHERE id = $4 AND {LIVE_SQL}"
)
END_ATTEMPT = (
    "UPDATE attempts SET finished_at = $1, outcome = 'failed', error = $2 "
    "WHERE job_id = $3 AND finished_at IS NULL"
)

log = logging.getLogger("jobq.store")


class PostgresStore(Store):
    def __init__(self, url: str, *, migrate: bool = True, pool_size: int | None = None) -> None:
        self.url = url
        self.auto_migrate = migrate
        conn_url, size = split_pool_size(url)
        self.db = Database(conn_url, min_size=1, max_size=pool_size or size)
        self._seen = SeenWorkers()
        self._combiner = Combiner(self._alone, self._together)

    async def open(self) -> None:
        await self.db.open()
        try:
            if self.auto_migrate:
                await self.db.read(migrate)
            else:
                await self._check_schema()
            gaps = await self.db.read(vacuum_gaps)
        except BaseException:
            await self.db.close()
            raise
        if gaps:
            log.warning(advice(gaps))

    async def _check_schema(self) -> None:
        version = await self.db.read(schema_version)
        if version < LATEST:
            raise StoreUnavailable(
                f"the database schema is at version {version}, this jobq needs {LATEST}: "
                "run `jobq db migrate --db URL`"
            )

    async def close(self) -> None:
        await self.db.close()

    async def ping(self) -> None:
        await self.db.read(lambda c: c.fetchval("SELECT 1"))

    async def migrate(self, upto: int | None = None) -> list[int]:
        return await self.db.read(lambda c: migrate(c, upto))

    def make_notifier(self) -> Any:
        from jobq.store.postgres_notify import PostgresNotifier

        return PostgresNotifier(self.db)

    # jobs
    async def insert(self, jobs: Sequence[Job], now: float) -> list[tuple[Job, bool]]:
        return await self.db.run(lambda c: _insert(c, jobs, now))

    async def get(self, job_id: str) -> Job | None:
        row = await self.db.read(lambda c: c.fetchrow(f"{SELECT_JOB} WHERE id = $1", job_id))
        return None if row is None else job_from_row(row)

    async def list_jobs(self, query: JobQuery) -> list[Job]:
        sql, params = list_sql(query)
        return await self._select_jobs(sql, *params)

    async def count_jobs(self, query: JobQuery, cap: int) -> int:
        sql, params = count_sql(query, cap)
        return int(await self.db.read(lambda c: c.fetchval(sql, *params)))

    async def _select_jobs(self, sql: str, *params: Any) -> list[Job]:
        rows = await self.db.read(lambda c: c.fetch(sql, *params))
        jobs: list[Job] = []
        for start in range(0, len(rows), ROWS_PER_TURN):  # other requests run in between
            if start:
                await asyncio.sleep(0)
            jobs += [job_from_row(r) for r in rows[start : start + ROWS_PER_TURN]]
        return jobs

    async def claim(self, spec: ClaimSpec, lease_key: str, now: float) -> list[Job]:
        _, jobs = await self.transition_and_claim([], spec, lease_key, now)
        return jobs

    async def transition(self, steps: Sequence[Step], now: float) -> list[StepResult]:
        if not steps:
            return []
        return await self.db.run(lambda c: _transition(c, steps, now))

    async def transition_and_claim(
        self, steps: Sequence[Step], spec: ClaimSpec, lease_key: str, now: float
    ) -> tuple[list[StepResult], list[Job]]:
        async def write(touches: list[bool]) -> tuple[list[StepResult], list[Job]]:
            return await self._combiner.run(Request(steps, spec, lease_key, now, touches[0]))

        return await recording(self._seen, [spec], now, write)

    async def _alone(self, r: Request) -> Outcome:
        """One acknowledge-and-claim in its own transaction."""
        if not r.steps and not r.touch and r.spec.ids is None:
            # one statement, its own transaction: one round trip
            claim = await self.db.once(lambda c: _claim(c, r.spec, r.lease_key, r.now, False))
            return [], claim
        [outcome] = await self._together([r])
        return outcome

    async def _together(self, requests: Sequence[Request]) -> list[Outcome]:
        """Several in one transaction (see jobq.store.combine)."""

        async def op(c: Conn) -> list[Outcome]:
            return await together(
                requests,
                lambda steps, now: _transition(c, steps, now),
                lambda spec, key, touch, now: _claim(c, spec, key, now, touch),
            )

        return await self.db.run(op)

    async def insert_and_claim(
        self, jobs: Sequence[Job], claims: Sequence[tuple[ClaimSpec, str]], now: float
    ) -> tuple[list[tuple[Job, bool]], list[list[Job]]]:
        async def write(touches: list[bool]) -> tuple[list[tuple[Job, bool]], list[list[Job]]]:
            if can_hand_over(jobs, claims):  # one statement
                [job], [(spec, key)], [touch] = jobs, claims, touches
                inserted, got = await self.db.once(
                    lambda c: hand_over(c, job, spec, key, now, touch)
                )
                return [(inserted, True)], [got]

            async def both(c: Conn) -> tuple[list[tuple[Job, bool]], list[list[Job]]]:
                pairs = zip(claims, touches, strict=True)
                inserted = await _insert(c, jobs, now)
                return inserted, [await _claim(c, spec, k, now, t) for (spec, k), t in pairs]

            return await self.db.run(both)

        return await recording(self._seen, [spec for spec, _ in claims], now, write)

    async def delete(self, ids: Sequence[str], allowed: frozenset[State]) -> list[State | None]:
        return await self.db.run(lambda c: _delete(c, ids, allowed))

    # background duties
    async def due_scheduled(self, now: float, limit: int) -> list[str]:
        sql = (
            "SELECT id FROM jobs WHERE state = 'scheduled' AND run_at <= $1 "
            "ORDER BY run_at LIMIT $2"
        )
        return await self._ids(sql, now, limit)

    async def overdue_running(self, now: float, limit: int) -> list[str]:
        sql = (
            "SELECT id FROM jobs WHERE state = 'running' AND lease_expires_at <= $1 UNION "
            "SELECT id FROM jobs WHERE state = 'running' AND deadline_at IS NOT NULL "
            "AND deadline_at <= $1 UNION "
            "SELECT id FROM jobs WHERE state IN ('scheduled', 'queued') "
            "AND deadline_at IS NOT NULL AND deadline_at <= $1 LIMIT $2"
        )
        return await self._ids(sql, now, limit)

    async def _ids(self, sql: str, *params: Any) -> list[str]:
        rows = await self.db.read(lambda c: c.fetch(sql, *params))
        return [r[0] for r in rows]

    async def purge(self, now: float, limit: int) -> int:
        return await self.db.run(lambda c: _purge(c, now, limit))

    async def fail_unprocessable(
        self, job_id: str, error: dict[str, Any], now: float, purge_at: float | None
    ) -> bool:
        async def write(c: Any) -> bool:
            text = dumps(error)
            status = await c.execute(FAIL_UNPROCESSABLE, text, now, purge_at, job_id)
            await c.execute(END_ATTEMPT, now, text, job_id)
            return bool(status != "UPDATE 0")

        return await self.db.run(write)

    async def next_due(self) -> float | None:
        value = await self.db.read(lambda c: c.fetchval(NEXT_DUE))
        return None if value is None else float(value)

    # attempts and logs
    async def attempts(self, job_id: str) -> list[Attempt]:
        sql = (
            "SELECT job_id, attempt, started_at, finished_at, worker, outcome, error "
            "FROM attempts WHERE job_id = $1 ORDER BY attempt"
        )
        rows = await self.db.read(lambda c: c.fetch(sql, job_id))
        return [attempt_from_row(tuple(r)) for r in rows]

    async def append_logs(
        self,
        job_id: str,
        entries: Sequence[tuple[float, str, str]],
        attempt: int,
        max_bytes: int | None = None,
    ) -> int:
        return await self.db.run(lambda c: _append_logs(c, job_id, entries, attempt, max_bytes))

    async def logs(
        self,
        job_id: str,
        after: int = 0,
        tail: int | None = None,
        limit: int = 10_000,
        max_chars: int | None = None,
    ) -> list[LogEntry]:
        cols = "SELECT seq, time, stream, text, attempt FROM logs WHERE job_id = $1 AND seq > $2"
        if tail is not None:
            sql = f"{cols} ORDER BY seq DESC LIMIT $3"
            rows = await self.db.read(lambda c: c.fetch(sql, job_id, after, min(tail, limit)))
            rows = list(reversed(rows))
        elif max_chars is not None:
            budget = max_chars
            rows = await self.db.read(lambda c: c.fetch(LOG_PAGE, job_id, after, limit, budget))
        else:
            sql = f"{cols} ORDER BY seq LIMIT $3"
            rows = await self.db.read(lambda c: c.fetch(sql, job_id, after, limit))
        return [LogEntry(*r) for r in rows]

    # queues and workers
    async def queue_stats(self) -> list[QueueStats]:
        return await self.db.run(_queue_stats)

    async def finished_counts(
        self,
        since: float,
        bucket_seconds: float,
        queues: Sequence[str] | None = None,
        top: int | None = None,
    ) -> list[FinishedCount]:
        names = None if queues is None else list(queues)
        rows = await self.db.read(
            lambda c: c.fetch(FINISHED_COUNTS, since, bucket_seconds, top, names)
        )
        return [FinishedCount(r[0], r[1], r[2], r[3]) for r in rows]

    async def set_paused(self, queue: str, paused: bool, now: float) -> None:
        sql = (
            "INSERT INTO queues (name, paused, updated_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, "
            "updated_at = excluded.updated_at"
        )
        await self.db.run(lambda c: c.execute(sql, queue, int(paused), now))

    async def paused_queues(self) -> set[str]:
        rows = await self.db.read(lambda c: c.fetch("SELECT name FROM queues WHERE paused = 1"))
        return {r[0] for r in rows}

    async def touch_worker(self, worker: Worker, queues: Sequence[str], now: float) -> None:
        await self.db.run(lambda c: _touch_worker(c, worker, queues, now))

    async def workers(self) -> list[WorkerSeen]:
        return await self.db.run(_workers)

    async def forget_workers(self, seen_before: float) -> int:
        sql = "DELETE FROM workers WHERE last_seen < $1"
        status = await self.db.run(lambda c: c.execute(sql, seen_before))
        return int(status.rsplit(" ", 1)[1])  # "DELETE n"

    # problems
    async def type_activity(
        self, since: float, queues: Sequence[str] | None = None
    ) -> list[TypeActivity]:
        names = None if queues is None else list(queues)
        rows = await self.db.read(lambda c: c.fetch(TYPE_ACTIVITY, since, names))
        return [TypeActivity(*r) for r in rows]

    async def queued_ids(self, queue: str, type: str | None, limit: int) -> list[str]:
        if type is None:
            rows = await self.db.read(lambda c: c.fetch(QUEUED_IDS, queue, limit))
        else:
            rows = await self.db.read(lambda c: c.fetch(QUEUED_IDS_OF_TYPE, queue, type, limit))
        return [r[0] for r in rows]

    async def failing_jobs(self, min_attempt: int, limit: int) -> list[Job]:
        sql = (
            f"{SELECT_JOB} WHERE {LIVE_SQL} AND error IS NOT NULL AND attempt >= $1 "
            "ORDER BY seq LIMIT $2"
        )
        return await self._select_jobs(sql, min_attempt, limit)

    async def deadlines_before(self, at: float, limit: int) -> list[Job]:
        sql = (
            f"{SELECT_JOB} WHERE {LIVE_SQL} AND deadline_at IS NOT NULL AND deadline_at <= $1 "
            "ORDER BY deadline_at LIMIT $2"
        )
        return await self._select_jobs(sql, at, limit)

    # callback outbox
    async def due_callbacks(self, now: float, limit: int, lease: float = 60.0) -> list[Callback]:
        """Due callbacks, leased to this node: another node sees them again only if this one
        neither reports them sent nor failed within `lease` seconds (it died)."""
        sql = """
            WITH due AS (
                SELECT id, next_at FROM callbacks WHERE next_at <= $1
                ORDER BY next_at LIMIT $2 FOR UPDATE SKIP LOCKED
            )
            UPDATE callbacks SET next_at = $1 + $3 FROM due WHERE callbacks.id = due.id
            RETURNING callbacks.id, job_id, url, attempts, due.next_at"""
        rows = await self.db.run(lambda c: c.fetch(sql, now, limit, lease))
        return sorted((Callback(*r) for r in rows), key=lambda cb: (cb.next_at, cb.id))

    async def callback_sent(self, callback_id: int) -> None:
        await self.db.run(lambda c: c.execute("DELETE FROM callbacks WHERE id = $1", callback_id))

    async def callback_failed(self, callback_id: int, next_at: float | None, error: str) -> None:
        async def op(c: Conn) -> None:
            if next_at is None:
                await c.execute("DELETE FROM callbacks WHERE id = $1", callback_id)
            else:
                await c.execute(
                    "UPDATE callbacks SET attempts = attempts + 1, next_at = $1, "
                    "last_error = $2 WHERE id = $3",
                    next_at, error, callback_id,
                )  # fmt: skip

        await self.db.run(op)


# a page of a job's log: up to $3 entries after seq $2 holding at most $4 bytes of text (at
# least one entry); sizes come from each text's length header (octet_length reads no toasted
# value), and only the page's texts are sent
LOG_PAGE = """
SELECT seq, time, stream, text, attempt FROM logs
WHERE job_id = $1 AND seq IN (
    SELECT seq FROM (
        SELECT seq, sum(octet_length(text)) OVER (ORDER BY seq) AS upto,
               row_number() OVER (ORDER BY seq) AS n
        FROM logs WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3
    ) AS sized WHERE upto <= $4 OR n = 1
)
ORDER BY seq"""
# a queue's queued jobs in the order claims take them: the order of jobs_claim / jobs_claim_type
QUEUED_IDS = (
    "SELECT id FROM jobs WHERE state = 'queued' AND queue = $1 ORDER BY priority DESC, seq LIMIT $2"
)
QUEUED_IDS_OF_TYPE = (
    "SELECT id FROM jobs WHERE state = 'queued' AND queue = $1 AND type = $2 "
    "ORDER BY priority DESC, seq LIMIT $3"
)
ROWS_PER_TURN = 500  # rows made into jobs between two turns of the event loop
# $2: the queues to look at, NULL for all
AMONG = "($2::text[] IS NULL OR queue = ANY($2::text[]))"
# per (queue, bucket, state); only the $3 busiest queues by name (NULL: all), the rest as NULL
FINISHED_COUNTS = """
WITH finished AS (
    SELECT queue, floor((finished_at - $1::float8) / $2::float8)::integer AS bucket, state
    FROM jobs WHERE finished_at IS NOT NULL AND finished_at >= $1::float8
    AND ($4::text[] IS NULL OR queue = ANY($4::text[]))),
busiest AS (SELECT queue FROM finished GROUP BY queue ORDER BY count(*) DESC, queue LIMIT $3)
SELECT CASE WHEN queue IN (SELECT queue FROM busiest) THEN queue END AS shown, bucket, state,
       count(*)
FROM finished GROUP BY shown, bucket, state
"""
# live jobs through the state index, finished ones since $1 through jobs_finished
TYPE_ACTIVITY = """
SELECT queue, type,
       count(*) FILTER (WHERE state = 'queued'),
       count(*) FILTER (WHERE state = 'running'),
       min(GREATEST(created_at, run_at)) FILTER (WHERE state = 'queued'),
       max(last_heartbeat_at)
FROM (SELECT queue, type, state, created_at, run_at, last_heartbeat_at FROM jobs
      WHERE state IN ('scheduled', 'queued', 'running') AND {AMONG}
      UNION ALL
      SELECT queue, type, state, created_at, run_at, last_heartbeat_at FROM jobs
      WHERE finished_at IS NOT NULL AND finished_at >= $1::float8 AND {AMONG}) AS recent
GROUP BY queue, type
HAVING count(*) FILTER (WHERE state = 'queued') > 0
ORDER BY queue, type
""".replace("{AMONG}", AMONG)


def split_pool_size(url: str, default: int = 10) -> tuple[str, int]:
    """The URL without jobq's own `pool_size=N` query parameter, and N (asyncpg would take
    an unknown parameter for a server setting)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    sizes = [v for k, v in query if k == "pool_size"]
    if not sizes:
        return url, default
    if not sizes[-1].isdigit() or int(sizes[-1]) < 1:
        raise ValueError(f"pool_size must be a positive integer, got {sizes[-1]!r}")
    rest = urlencode([(k, v) for k, v in query if k != "pool_size"])
    return urlunsplit(parts._replace(query=rest)), int(sizes[-1])


# --- operations, each inside one transaction ---


async def _insert(c: Conn, jobs: Sequence[Job], now: float) -> list[tuple[Job, bool]]:
    queues = sorted({j.queue for j in jobs})
    if all(j.unique_key is None for j in jobs):  # the usual batch: one statement
        await _insert_plain(c, list(jobs), (queues, now))
        out = [(job, True) for job in jobs]
    else:
        out = await _insert_mixed(c, jobs, queues, now)
    retried = [(j.id, j.retry_of) for j, created in out if created and j.retry_of is not None]
    if retried:
        await c.executemany("UPDATE jobs SET retried_by = $1 WHERE id = $2", retried)
    return out


async def _insert_mixed(
    c: Conn, jobs: Sequence[Job], queues: list[str], now: float
) -> list[tuple[Job, bool]]:
    """A batch holding jobs with a unique key: those one by one, the others in runs."""
    await c.execute(
        "INSERT INTO queues (name, paused, updated_at) SELECT unnest($1::text[]), 0, $2 "
        "ON CONFLICT (name) DO NOTHING",
        queues, now,
    )  # fmt: skip
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
    row = await c.fetchrow(f"{SELECT_JOB} WHERE unique_key = $1 AND {LIVE_SQL}", job.unique_key)
    if row is None:  # the holder finished between the two statements: try once more
        return await _insert_unique(c, job)
    return job_from_row(row), False


async def _claim(
    c: Conn, spec: ClaimSpec, lease_key: str, now: float, touch: bool = True
) -> list[Job]:
    if touch:
        await _touch_worker(c, spec.worker, spec.queues, now)
    if spec.limit < 1:
        return []
    worker = dumps(worker_dict(spec.worker))
    if spec.ids is not None:
        return await _claim_chosen(c, spec, lease_key, now, worker)
    types = list(spec.types) if spec.types else None
    rows = await c.fetch(CLAIM_PICKED, spec.lease_seconds, now, worker, list(spec.queues),
                         types, lease_key, spec.limit)  # fmt: skip
    return sorted((job_from_row(r) for r in rows), key=lambda j: (-j.priority, j.seq))


async def _claim_chosen(
    c: Conn, spec: ClaimSpec, lease_key: str, now: float, worker: str
) -> list[Job]:
    """A claim of named jobs (`spec.ids`), among the queued ones of unpaused queues."""
    assert spec.ids is not None
    rows = await c.fetch(LOCK_NAMED, list(spec.queues), list(spec.ids), spec.limit)
    seqs = [r[0] for r in rows]
    if not seqs:
        return []
    tokens = [f"{lease_key}.{seq}" for seq in seqs]
    rows = await c.fetch(CLAIM, spec.lease_seconds, now, worker, seqs, tokens)
    jobs = sorted((job_from_row(r) for r in rows), key=lambda j: (-j.priority, j.seq))
    await c.execute(OPEN_ATTEMPTS, [j.id for j in jobs], [j.attempt for j in jobs], now, worker)
    return jobs


async def _transition(c: Conn, steps: Sequence[Step], now: float) -> list[StepResult]:
    """Decide every step on the rows as they are (locked), then write the decisions grouped
    (see jobq.store.postgres_writes)."""
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
        await _insert(c, spawns, writes.now)


async def _delete(c: Conn, ids: Sequence[str], allowed: frozenset[State]) -> list[State | None]:
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


async def _purge(c: Conn, now: float, limit: int) -> int:
    rows = await c.fetch(
        "SELECT id FROM jobs WHERE purge_at <= $1 ORDER BY purge_at LIMIT $2 "
        "FOR UPDATE SKIP LOCKED",
        now, limit,
    )  # fmt: skip
    ids = [r[0] for r in rows]
    await _delete_rows(c, ids)
    return len(ids)


async def _append_logs(
    c: Conn,
    job_id: str,
    entries: Sequence[tuple[float, str, str]],
    attempt: int,
    max_bytes: int | None,
) -> int:
    # appends to one job from several nodes take turns, so seq numbers and sizes never collide
    await c.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", job_id)
    last = await c.fetchval("SELECT coalesce(max(seq), 0) FROM logs WHERE job_id = $1", job_id)
    used = await c.fetchval("SELECT log_bytes FROM jobs WHERE id = $1", job_id)
    kept, size = loglimit.admit(entries, used or 0, max_bytes)
    if not kept:
        return int(last)
    times, streams, texts = ([e[i] for e in kept] for i in range(3))
    await c.execute(
        "INSERT INTO logs (job_id, seq, attempt, time, stream, text) "
        "SELECT $1, $2 + n, $3, t, s, x "
        "FROM unnest($4::float8[], $5::text[], $6::text[]) WITH ORDINALITY AS e(t, s, x, n)",
        job_id, last, attempt, [float(t) for t in times], streams, texts,
    )  # fmt: skip
    await c.execute("UPDATE jobs SET log_bytes = $2 WHERE id = $1", job_id, size)
    return int(last) + len(kept)


async def _queue_stats(c: Conn) -> list[QueueStats]:
    stats: dict[str, QueueStats] = {}
    empty = {str(s): 0 for s in State}
    for name, paused in await c.fetch("SELECT name, paused FROM queues ORDER BY name"):
        stats[name] = QueueStats(name, dict(empty), None, bool(paused))
    for queue, state, count in await c.fetch(
        "SELECT queue, state, count(*) FROM jobs GROUP BY queue, state"
    ):
        entry = stats.setdefault(queue, QueueStats(queue, dict(empty), None, False))
        entry.counts[state] = count
    for name, oldest in await c.fetch(OLDEST_QUEUED):
        stats[name].oldest_queued_at = oldest
    return sorted(stats.values(), key=lambda s: s.name)


async def _touch_worker(c: Conn, worker: Worker, queues: Sequence[str], now: float) -> None:
    await c.execute(TOUCH_WORKER, *worker_values(worker, queues, now))


async def _workers(c: Conn) -> list[WorkerSeen]:
    held: dict[tuple[str, str, int], int] = {}
    for raw, count in await c.fetch(
        "SELECT worker, count(*) FROM jobs WHERE state = 'running' GROUP BY worker"
    ):
        if raw is not None:
            w = orjson.loads(raw)
            key = (w.get("name", ""), w.get("host") or "", w.get("pid") or 0)
            held[key] = held.get(key, 0) + count
    out = []
    for name, host, pid, queues, last_seen in await c.fetch(
        "SELECT name, host, pid, queues, last_seen FROM workers ORDER BY last_seen DESC"
    ):
        listed = orjson.loads(queues)
        out.append(
            WorkerSeen(
                name, host or None, pid or None,
                [str(q) for q in listed] if isinstance(listed, list) else [], last_seen,
                held.get((name, host, pid), 0),
            )
        )  # fmt: skip
    return out
