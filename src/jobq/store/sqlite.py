"""The SQLite store: jobq's embedded default, one server process per database file."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from jobq.errors import Conflict, JobqError, NotFound, StaleLease
from jobq.model import (
    Attempt,
    Callback,
    ClaimSpec,
    Job,
    JobQuery,
    LogEntry,
    Moved,
    QueueStats,
    Step,
    StepResult,
    TypeActivity,
    Worker,
    WorkerSeen,
)
from jobq.states import LIVE, State, sources, target
from jobq.store.base import Store
from jobq.store.rows import (
    INSERT_COLUMNS,
    JOB_COLUMNS,
    attempt_from_row,
    decode_worker,
    dumps,
    encode,
    job_from_row,
    job_values,
    worker_dict,
)
from jobq.store.sqlite_conn import GroupCommitter, Readers, connect, migrate

SELECT_JOB = f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs"
INSERT_JOB = (
    f"INSERT INTO jobs ({', '.join(INSERT_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in INSERT_COLUMNS)}) RETURNING seq"
)
LIVE_STATES = tuple(str(s) for s in LIVE)


class SQLiteStore(Store):
    def __init__(self, path: str) -> None:
        self.path = path
        self._writer = GroupCommitter(path)
        self._readers = Readers(path)

    async def open(self) -> None:
        self._writer.start()

    async def close(self) -> None:
        self._writer.stop()
        self._readers.close()

    async def ping(self) -> None:
        await self._readers.run(lambda c: c.execute("SELECT 1").fetchone())

    def migrate(self) -> list[int]:
        conn = connect(self.path)
        try:
            return migrate(conn)
        finally:
            conn.close()

    async def _write(self, op: Any) -> Any:
        return await self._writer.submit(op)

    # jobs
    async def insert(self, jobs: Sequence[Job], now: float) -> list[tuple[Job, bool]]:
        return await self._write(lambda c: _insert(c, jobs, now))  # type: ignore[no-any-return]

    async def get(self, job_id: str) -> Job | None:
        return await self._readers.run(lambda c: _get(c, job_id))

    async def list_jobs(self, query: JobQuery) -> list[Job]:
        sql, params = list_sql(query)
        rows = await self._readers.run(lambda c: c.execute(sql, params).fetchall())
        return [job_from_row(r) for r in rows]

    async def claim(self, spec: ClaimSpec, token_for: Sequence[str], now: float) -> list[Job]:
        return await self._write(lambda c: _claim(c, spec, token_for, now))  # type: ignore[no-any-return]

    async def transition(self, steps: Sequence[Step], now: float) -> list[StepResult]:
        return await self._write(lambda c: [_step(c, s, now) for s in steps])  # type: ignore[no-any-return]

    async def delete(self, ids: Sequence[str], allowed: frozenset[State]) -> list[State | None]:
        return await self._write(lambda c: [_delete(c, i, allowed) for i in ids])  # type: ignore[no-any-return]

    # background duties
    async def due_scheduled(self, now: float, limit: int) -> list[str]:
        sql = (
            "SELECT id FROM jobs WHERE state = 'scheduled' AND run_at <= ? ORDER BY run_at LIMIT ?"
        )
        return await self._ids(sql, (now, limit))

    async def overdue_running(self, now: float, limit: int) -> list[str]:
        sql = (
            "SELECT id FROM jobs WHERE state = 'running' AND lease_expires_at <= ? UNION "
            "SELECT id FROM jobs WHERE state = 'running' AND deadline_at IS NOT NULL "
            "AND deadline_at <= ? LIMIT ?"
        )
        return await self._ids(sql, (now, now, limit))

    async def _ids(self, sql: str, params: tuple[Any, ...]) -> list[str]:
        rows = await self._readers.run(lambda c: c.execute(sql, params).fetchall())
        return [r[0] for r in rows]

    async def purge(self, now: float, limit: int) -> int:
        return await self._write(lambda c: _purge(c, now, limit))  # type: ignore[no-any-return]

    async def next_due(self) -> float | None:
        return await self._readers.run(_next_due)

    # attempts and logs
    async def attempts(self, job_id: str) -> list[Attempt]:
        sql = (
            "SELECT job_id, attempt, started_at, finished_at, worker, outcome, error "
            "FROM attempts WHERE job_id = ? ORDER BY attempt"
        )
        rows = await self._readers.run(lambda c: c.execute(sql, (job_id,)).fetchall())
        return [attempt_from_row(r) for r in rows]

    async def append_logs(
        self, job_id: str, entries: Sequence[tuple[float, str, str]], attempt: int
    ) -> int:
        return await self._write(lambda c: _append_logs(c, job_id, entries, attempt))  # type: ignore[no-any-return]

    async def logs(
        self, job_id: str, after: int = 0, tail: int | None = None, limit: int = 10_000
    ) -> list[LogEntry]:
        return await self._readers.run(lambda c: _logs(c, job_id, after, tail, limit))

    # queues and workers
    async def queue_stats(self) -> list[QueueStats]:
        return await self._readers.run(_queue_stats)

    async def set_paused(self, queue: str, paused: bool, now: float) -> None:
        sql = (
            "INSERT INTO queues (name, paused, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, "
            "updated_at = excluded.updated_at"
        )
        await self._write(lambda c: c.execute(sql, (queue, int(paused), now)))

    async def paused_queues(self) -> set[str]:
        rows = await self._readers.run(
            lambda c: c.execute("SELECT name FROM queues WHERE paused = 1").fetchall()
        )
        return {r[0] for r in rows}

    async def touch_worker(self, worker: Worker, queues: Sequence[str], now: float) -> None:
        await self._write(lambda c: _touch_worker(c, worker, queues, now))

    async def workers(self) -> list[WorkerSeen]:
        return await self._readers.run(_workers)

    # problems
    async def type_activity(self) -> list[TypeActivity]:
        rows = await self._readers.run(lambda c: c.execute(TYPE_ACTIVITY).fetchall())
        return [TypeActivity(*r) for r in rows]

    async def failing_jobs(self, min_attempt: int, limit: int) -> list[Job]:
        sql = (
            f"{SELECT_JOB} WHERE state IN (?, ?, ?) AND error IS NOT NULL AND attempt >= ? "
            "ORDER BY seq LIMIT ?"
        )
        rows = await self._readers.run(
            lambda c: c.execute(sql, (*LIVE_STATES, min_attempt, limit)).fetchall()
        )
        return [job_from_row(r) for r in rows]

    async def deadlines_before(self, at: float, limit: int) -> list[Job]:
        sql = (
            f"{SELECT_JOB} WHERE state IN (?, ?, ?) AND deadline_at IS NOT NULL "
            "AND deadline_at <= ? ORDER BY deadline_at LIMIT ?"
        )
        rows = await self._readers.run(
            lambda c: c.execute(sql, (*LIVE_STATES, at, limit)).fetchall()
        )
        return [job_from_row(r) for r in rows]

    # callback outbox
    async def due_callbacks(self, now: float, limit: int, lease: float = 60.0) -> list[Callback]:
        return await self._write(lambda c: _claim_callbacks(c, now, limit, lease))  # type: ignore[no-any-return]

    async def callback_sent(self, callback_id: int) -> None:
        await self._write(lambda c: c.execute("DELETE FROM callbacks WHERE id = ?", (callback_id,)))

    async def callback_failed(self, callback_id: int, next_at: float | None, error: str) -> None:
        def op(c: sqlite3.Connection) -> None:
            if next_at is None:
                c.execute("DELETE FROM callbacks WHERE id = ?", (callback_id,))
            else:
                c.execute(
                    "UPDATE callbacks SET attempts = attempts + 1, next_at = ?, last_error = ? "
                    "WHERE id = ?",
                    (next_at, error, callback_id),
                )

        await self._write(op)


# --- operations, each run inside the writer's transaction or on a reader ---


def _get(c: sqlite3.Connection, job_id: str) -> Job | None:
    row = c.execute(f"{SELECT_JOB} WHERE id = ?", (job_id,)).fetchone()
    return None if row is None else job_from_row(row)


def _insert(c: sqlite3.Connection, jobs: Sequence[Job], now: float) -> list[tuple[Job, bool]]:
    out: list[tuple[Job, bool]] = []
    for queue in {j.queue for j in jobs}:
        c.execute(
            "INSERT OR IGNORE INTO queues (name, paused, updated_at) VALUES (?, 0, ?)",
            (queue, now),
        )
    for job in jobs:
        if job.unique_key is not None:
            existing = c.execute(
                f"{SELECT_JOB} WHERE unique_key = ? AND state IN (?, ?, ?)",
                (job.unique_key, *LIVE_STATES),
            ).fetchone()
            if existing is not None:
                out.append((job_from_row(existing), False))
                continue
        (job.seq,) = c.execute(INSERT_JOB, job_values(job)).fetchone()
        if job.retry_of is not None:
            c.execute("UPDATE jobs SET retried_by = ? WHERE id = ?", (job.id, job.retry_of))
        out.append((job, True))
    return out


def _claim(c: sqlite3.Connection, spec: ClaimSpec, tokens: Sequence[str], now: float) -> list[Job]:
    _touch_worker(c, spec.worker, spec.queues, now)
    paused = {r[0] for r in c.execute("SELECT name FROM queues WHERE paused = 1")}
    candidates: list[tuple[int, int]] = []
    for queue in spec.queues:
        if queue in paused:
            continue
        for kind in spec.types or [None]:  # type: ignore[list-item]
            candidates += _claim_candidates(c, queue, kind, spec.limit)
    candidates.sort(key=lambda pc: (-pc[0], pc[1]))
    worker = dumps(worker_dict(spec.worker))
    claimed = []
    for (_, seq), token in zip(candidates[: spec.limit], tokens, strict=False):
        row = c.execute(CLAIM_ONE, (spec.lease_seconds, token, now, now, now, worker, now, seq))
        job = job_from_row(row.fetchone())
        c.execute(
            "INSERT INTO attempts (job_id, attempt, started_at, worker) VALUES (?, ?, ?, ?)",
            (job.id, job.attempt, now, worker),
        )
        claimed.append(job)
    return claimed


CLAIM_ONE = f"""
UPDATE jobs SET
    state = 'running',
    attempt = attempt + 1,
    lease_seconds = coalesce(?1, lease_seconds),
    lease_token = ?2,
    lease_expires_at = ?3 + coalesce(?1, lease_seconds),
    started_at = coalesce(started_at, ?4),
    deadline_at = CASE WHEN deadline_seconds IS NULL THEN NULL
                       ELSE coalesce(deadline_at, ?4 + deadline_seconds) END,
    last_heartbeat_at = ?5,
    worker = ?6,
    updated_at = ?7,
    cancel_requested = 0
WHERE seq = ?8 AND state = 'queued'
RETURNING {", ".join(JOB_COLUMNS)}
"""


def _claim_candidates(
    c: sqlite3.Connection, queue: str, kind: str | None, limit: int
) -> list[tuple[int, int]]:
    if kind is None:
        sql = (
            "SELECT priority, seq FROM jobs INDEXED BY jobs_claim WHERE state = 'queued' "
            "AND queue = ? ORDER BY priority DESC, seq LIMIT ?"
        )
        return c.execute(sql, (queue, limit)).fetchall()
    sql = (
        "SELECT priority, seq FROM jobs INDEXED BY jobs_claim_type WHERE state = 'queued' "
        "AND queue = ? AND type = ? ORDER BY priority DESC, seq LIMIT ?"
    )
    return c.execute(sql, (queue, kind, limit)).fetchall()


def _step(c: sqlite3.Connection, step: Step, now: float) -> StepResult:
    try:
        return _apply(c, step, now)
    except JobqError as exc:
        return exc


def _apply(c: sqlite3.Connection, step: Step, now: float) -> Moved:
    job = _get(c, step.job_id)
    if job is None:
        raise NotFound("job not found", id=step.job_id)
    if step.token is not None and (job.state != State.running or job.lease_token != step.token):
        raise StaleLease(state=str(job.state), id=job.id)
    plan = step.decide(job)
    try:
        new_state = target(plan.event, job.state)
    except ValueError as exc:
        raise Conflict(str(exc), state=str(job.state), id=job.id) from None
    changes = {**plan.changes, "state": new_state, "updated_at": now}
    assignments = ", ".join(f"{column} = ?" for column in changes)
    allowed = sorted(str(s) for s in sources(plan.event))
    sql = (
        f"UPDATE jobs SET {assignments} WHERE id = ? "
        f"AND state IN ({', '.join('?' for _ in allowed)}) RETURNING {', '.join(JOB_COLUMNS)}"
    )
    params = [encode(k, v) for k, v in changes.items()]
    row = c.execute(sql, (*params, job.id, *allowed)).fetchone()
    if row is None:  # cannot happen with one writer; kept as the compare-and-set guard
        raise Conflict(state=str(job.state), id=job.id)
    if plan.attempt_outcome is not None:
        c.execute(
            "UPDATE attempts SET finished_at = ?, outcome = ?, error = ? "
            "WHERE job_id = ? AND attempt = ?",
            (now, plan.attempt_outcome, encode("error", plan.attempt_error), job.id, job.attempt),
        )
    if plan.callback and job.callback_url:
        c.execute(
            "INSERT INTO callbacks (job_id, url, next_at) VALUES (?, ?, ?)",
            (job.id, job.callback_url, now),
        )
    return Moved(job_from_row(row), job.state)


def _claim_callbacks(c: sqlite3.Connection, now: float, limit: int, lease: float) -> list[Callback]:
    rows = c.execute(
        "SELECT id, job_id, url, attempts, next_at FROM callbacks "
        "WHERE next_at <= ? ORDER BY next_at LIMIT ?",
        (now, limit),
    ).fetchall()
    c.executemany(
        "UPDATE callbacks SET next_at = ? WHERE id = ?", [(now + lease, r[0]) for r in rows]
    )
    return [Callback(*r) for r in rows]


def _delete(c: sqlite3.Connection, job_id: str, allowed: frozenset[State]) -> State | None:
    row = c.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        return None
    state = State(row[0])
    if state in allowed:
        _delete_rows(c, [job_id])
    return state


def _delete_rows(c: sqlite3.Connection, ids: Sequence[str]) -> None:
    params = [(i,) for i in ids]
    c.executemany("DELETE FROM jobs WHERE id = ?", params)
    c.executemany("DELETE FROM attempts WHERE job_id = ?", params)
    c.executemany("DELETE FROM logs WHERE job_id = ?", params)


def _purge(c: sqlite3.Connection, now: float, limit: int) -> int:
    ids = [
        r[0]
        for r in c.execute(
            "SELECT id FROM jobs WHERE purge_at <= ? ORDER BY purge_at LIMIT ?", (now, limit)
        )
    ]
    _delete_rows(c, ids)
    return len(ids)


def _next_due(c: sqlite3.Connection) -> float | None:
    row = c.execute(
        """SELECT min(
            coalesce((SELECT min(run_at) FROM jobs WHERE state = 'scheduled'), 1e18),
            coalesce((SELECT min(lease_expires_at) FROM jobs WHERE state = 'running'), 1e18),
            coalesce((SELECT min(deadline_at) FROM jobs
                      WHERE state = 'running' AND deadline_at IS NOT NULL), 1e18),
            coalesce((SELECT min(purge_at) FROM jobs WHERE purge_at IS NOT NULL), 1e18),
            coalesce((SELECT min(next_at) FROM callbacks), 1e18))"""
    ).fetchone()
    value: float = row[0]
    return None if value >= 1e18 else value


def _append_logs(
    c: sqlite3.Connection, job_id: str, entries: Sequence[tuple[float, str, str]], attempt: int
) -> int:
    (last,) = c.execute(
        "SELECT coalesce(max(seq), 0) FROM logs WHERE job_id = ?", (job_id,)
    ).fetchone()
    rows = [(job_id, last + i, attempt, t, s, x) for i, (t, s, x) in enumerate(entries, 1)]
    c.executemany(
        "INSERT INTO logs (job_id, seq, attempt, time, stream, text) VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    return int(last) + len(rows)


def _logs(
    c: sqlite3.Connection, job_id: str, after: int, tail: int | None, limit: int
) -> list[LogEntry]:
    cols = "seq, time, stream, text, attempt"
    if tail is not None:
        rows = c.execute(
            f"SELECT {cols} FROM logs WHERE job_id = ? AND seq > ? ORDER BY seq DESC LIMIT ?",
            (job_id, after, min(tail, limit)),
        ).fetchall()
        rows.reverse()
    else:
        rows = c.execute(
            f"SELECT {cols} FROM logs WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (job_id, after, limit),
        ).fetchall()
    return [LogEntry(*r) for r in rows]


def _queue_stats(c: sqlite3.Connection) -> list[QueueStats]:
    stats: dict[str, QueueStats] = {}
    for name, paused in c.execute("SELECT name, paused FROM queues ORDER BY name"):
        stats[name] = QueueStats(name, {str(s): 0 for s in State}, None, bool(paused))
    for queue, state, count in c.execute(
        "SELECT queue, state, count(*) FROM jobs GROUP BY queue, state"
    ):
        entry = stats.setdefault(queue, QueueStats(queue, {str(s): 0 for s in State}, None, False))
        entry.counts[state] = count
    for entry in stats.values():
        row = c.execute(
            "SELECT min(created_at) FROM jobs WHERE queue = ? AND state = 'queued'", (entry.name,)
        ).fetchone()
        entry.oldest_queued_at = row[0]
    return sorted(stats.values(), key=lambda s: s.name)


TYPE_ACTIVITY = """
SELECT queue, type,
       sum(CASE WHEN state = 'queued' THEN 1 ELSE 0 END),
       sum(CASE WHEN state = 'running' THEN 1 ELSE 0 END),
       min(CASE WHEN state = 'queued' THEN max(created_at, run_at) END),
       max(last_heartbeat_at)
FROM jobs GROUP BY queue, type
HAVING sum(CASE WHEN state = 'queued' THEN 1 ELSE 0 END) > 0
ORDER BY queue, type
"""


def _touch_worker(c: sqlite3.Connection, worker: Worker, queues: Sequence[str], now: float) -> None:
    c.execute(
        "INSERT INTO workers (name, host, pid, queues, last_seen) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (name, host, pid) DO UPDATE SET queues = excluded.queues, "
        "last_seen = excluded.last_seen",
        (worker.name, worker.host or "", worker.pid or 0, dumps(list(queues)), now),
    )


def _workers(c: sqlite3.Connection) -> list[WorkerSeen]:
    held: dict[tuple[str, str, int], int] = {}
    for (raw,) in c.execute("SELECT worker FROM jobs WHERE state = 'running'"):
        w = decode_worker(raw)
        if w is not None:
            key = (w.name, w.host or "", w.pid or 0)
            held[key] = held.get(key, 0) + 1
    out = []
    for name, host, pid, queues, last_seen in c.execute(
        "SELECT name, host, pid, queues, last_seen FROM workers ORDER BY last_seen DESC"
    ):
        out.append(
            WorkerSeen(
                name, host or None, pid or None, _loads_list(queues), last_seen,
                held.get((name, host, pid), 0),
            )
        )  # fmt: skip
    return out


def _loads_list(raw: str) -> list[str]:
    value = orjson.loads(raw)
    return [str(v) for v in value] if isinstance(value, list) else []


def list_sql(q: JobQuery) -> tuple[str, list[Any]]:
    """The SELECT for a job listing, with keyset pagination on (sort value, seq)."""
    where, params = _filters(q)
    key = "seq" if q.sort == "seq" else f"coalesce({q.sort}, 0)"
    order = "DESC" if q.descending else "ASC"
    if q.after is not None:
        op = "<" if q.descending else ">"
        if q.sort == "seq":
            where.append(f"seq {op} ?")
            params.append(q.after[1])
        else:
            where.append(f"({key}, seq) {op} (?, ?)")
            params += [q.after[0], q.after[1]]
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    tiebreak = "" if q.sort == "seq" else f", seq {order}"
    sql = f"{SELECT_JOB}{clause} ORDER BY {key} {order}{tiebreak} LIMIT ?"
    return sql, [*params, q.limit]


def _filters(q: JobQuery) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    for column, values in (
        ("queue", q.queues),
        ("type", q.types),
        ("state", q.states),
        ("id", q.ids),
    ):
        if values:
            where.append(f"{column} IN ({', '.join('?' for _ in values)})")
            params += [str(v) for v in values]
    if q.owner is not None:
        where.append("owner = ?")
        params.append(q.owner)
    for name, value in q.metadata.items():
        where.append("json_extract(metadata, ?) = ?")
        params += ['$."' + name.replace('"', "") + '"', value]
    for column, low, high in (
        ("created_at", q.created_after, q.created_before),
        ("started_at", q.started_after, q.started_before),
        ("finished_at", q.finished_after, q.finished_before),
    ):
        if low is not None:
            where.append(f"{column} >= ?")
            params.append(low)
        if high is not None:
            where.append(f"{column} < ?")
            params.append(high)
    return where, params
