"""The SQLite store: jobq's embedded default, one server process per database file."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import orjson

from jobq import loglimit
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
from jobq.states import LIVE, State
from jobq.store import sqlite_claim, sqlite_handover
from jobq.store.base import Store
from jobq.store.decide import Decided, decide_all
from jobq.store.handover import can_hand_over
from jobq.store.rows import (
    INSERT_COLUMNS,
    JOB_COLUMNS,
    NEW_COLUMNS,
    attempt_from_row,
    decode_worker,
    dumps,
    encode,
    is_new,
    job_from_row,
    job_values,
    new_job_values,
)
from jobq.store.seen import SeenWorkers, recording
from jobq.store.sqlite_conn import (
    DEFAULT_CACHE_MIB,
    GroupCommitter,
    Readers,
    cache_split,
    connect,
    migrate,
)
from jobq.store.sqlite_many import insert_rows, update_rows

SELECT_JOB = f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs"
INSERT_NEW_HEAD = f"INSERT INTO jobs ({', '.join(NEW_COLUMNS)})"
INSERT_JOB_HEAD = f"INSERT INTO jobs ({', '.join(INSERT_COLUMNS)})"
LIVE_STATES = tuple(str(s) for s in LIVE)
FAIL_UNPROCESSABLE = (
    "UPDATE jobs SET state = 'failed', error = ?, finished_at = ?, updated_at = ?, purge_at = ?, "
    "lease_token = NULL, lease_expires_at = NULL, cancel_requested = 0 "
    "WHERE id = ? AND state IN (?, ?, ?)"
)
END_ATTEMPT = (
    "UPDATE attempts SET finished_at = ?, outcome = 'failed', error = ? "
    "WHERE job_id = ? AND finished_at IS NULL"
)


class SQLiteStore(Store):
    def __init__(self, path: str, cache_mib: int = DEFAULT_CACHE_MIB) -> None:
        """`cache_mib`: the page-cache budget of all this store's connections together."""
        self.path = path
        self._writer_kib, reader_kib = cache_split(cache_mib)
        self._writer = GroupCommitter(path, self._writer_kib)
        self._readers = Readers(path, reader_kib)
        self._seen = SeenWorkers()

    async def open(self) -> None:
        self._writer.start()

    async def close(self) -> None:
        self._writer.stop()
        self._readers.close()

    async def ping(self) -> None:
        await self._readers.run(lambda c: c.execute("SELECT 1").fetchone())

    def migrate(self) -> list[int]:
        conn = connect(self.path, cache_kib=self._writer_kib)
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
        return await self._select_jobs(*list_sql(query))

    async def count_jobs(self, query: JobQuery, cap: int) -> int:
        sql, params = count_sql(query, cap)
        row = await self._readers.run(lambda c: c.execute(sql, params).fetchone())
        return int(row[0])

    async def _select_jobs(self, sql: str, params: Sequence[Any]) -> list[Job]:
        # rows become jobs on the reader thread: a long listing never holds the event loop
        # for longer than the interpreter's switch interval at a time
        return await self._readers.run(
            lambda c: [job_from_row(r) for r in c.execute(sql, params).fetchall()]
        )

    async def claim(self, spec: ClaimSpec, lease_key: str, now: float) -> list[Job]:
        async def write(touches: list[bool]) -> list[Job]:
            claimed: list[Job] = []
            touch, want = touches[0], spec
            for _ in range(NARROWINGS):  # another claim may take the chosen jobs first
                among = await self._narrowed(want)
                claimed += await self._claim(want, lease_key, now, touch, among)
                if not among or len(claimed) >= spec.limit:
                    break
                touch, want = False, replace(spec, limit=spec.limit - len(claimed))
            return claimed

        return await recording(self._seen, [spec], now, write)

    async def _claim(
        self, spec: ClaimSpec, key: str, now: float, touch: bool, among: list[str] | None
    ) -> list[Job]:
        return await self._write(  # type: ignore[no-any-return]
            lambda c: sqlite_claim.claim(c, spec, key, now, touch, among)
        )

    async def _narrowed(self, spec: ClaimSpec) -> list[str] | None:
        """For a wide claim, the few queues to claim from (read on a reader); else None."""
        if not sqlite_claim.is_wide(spec):
            return None
        return await self._readers.run(lambda c: sqlite_claim.narrow(c, spec))  # type: ignore[no-any-return]

    async def transition(self, steps: Sequence[Step], now: float) -> list[StepResult]:
        return await self._write(lambda c: _transition(c, steps, now))  # type: ignore[no-any-return]

    async def transition_and_claim(
        self, steps: Sequence[Step], spec: ClaimSpec, lease_key: str, now: float
    ) -> tuple[list[StepResult], list[Job]]:
        async def write(touches: list[bool]) -> tuple[list[StepResult], list[Job]]:
            among = await self._narrowed(spec)

            def both(c: sqlite3.Connection) -> tuple[list[StepResult], list[Job]]:
                results = _transition(c, steps, now) if steps else []
                return results, sqlite_claim.claim(c, spec, lease_key, now, touches[0], among)

            return await self._write(both)  # type: ignore[no-any-return]

        return await recording(self._seen, [spec], now, write)

    async def insert_and_claim(
        self, jobs: Sequence[Job], claims: Sequence[tuple[ClaimSpec, str]], now: float
    ) -> tuple[list[tuple[Job, bool]], list[list[Job]]]:
        async def write(touches: list[bool]) -> tuple[list[tuple[Job, bool]], list[list[Job]]]:
            def both(c: sqlite3.Connection) -> tuple[list[tuple[Job, bool]], list[list[Job]]]:
                if can_hand_over(jobs, claims):
                    handed = _hand_over(c, jobs[0], *claims[0], now, touches[0])
                    if handed is not None:
                        return [(jobs[0], True)], [[handed]]
                return _insert(c, jobs, now), [
                    sqlite_claim.claim(c, spec, key, now, touch, _new_work(spec, jobs))
                    for (spec, key), touch in zip(claims, touches, strict=True)
                ]

            return await self._write(both)  # type: ignore[no-any-return]

        return await recording(self._seen, [spec for spec, _ in claims], now, write)

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
            "AND deadline_at <= ? UNION "
            "SELECT id FROM jobs WHERE state IN ('scheduled', 'queued') "
            "AND deadline_at IS NOT NULL AND deadline_at <= ? LIMIT ?"
        )
        return await self._ids(sql, (now, now, now, limit))

    async def _ids(self, sql: str, params: tuple[Any, ...]) -> list[str]:
        rows = await self._readers.run(lambda c: c.execute(sql, params).fetchall())
        return [r[0] for r in rows]

    async def purge(self, now: float, limit: int) -> int:
        return await self._write(lambda c: _purge(c, now, limit))  # type: ignore[no-any-return]

    async def fail_unprocessable(
        self, job_id: str, error: dict[str, Any], now: float, purge_at: float | None
    ) -> bool:
        def write(c: sqlite3.Connection) -> bool:
            text = dumps(error)
            moved = c.execute(FAIL_UNPROCESSABLE, (text, now, now, purge_at, job_id, *LIVE_STATES))
            c.execute(END_ATTEMPT, (now, text, job_id))
            return moved.rowcount > 0

        return await self._write(write)  # type: ignore[no-any-return]

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
        self,
        job_id: str,
        entries: Sequence[tuple[float, str, str]],
        attempt: int,
        max_bytes: int | None = None,
    ) -> int:
        return await self._write(lambda c: _append_logs(c, job_id, entries, attempt, max_bytes))  # type: ignore[no-any-return]

    async def logs(
        self,
        job_id: str,
        after: int = 0,
        tail: int | None = None,
        limit: int = 10_000,
        max_chars: int | None = None,
    ) -> list[LogEntry]:
        return await self._readers.run(lambda c: _logs(c, job_id, after, tail, limit, max_chars))

    # queues and workers
    async def queue_stats(self) -> list[QueueStats]:
        return await self._readers.run(_queue_stats)

    async def finished_counts(
        self,
        since: float,
        bucket_seconds: float,
        queues: Sequence[str] | None = None,
        top: int | None = None,
    ) -> list[FinishedCount]:
        among = "" if queues is None else f"AND queue IN {IN_JSON.format(n=4)}"
        sql = FINISHED_COUNTS.format(among=among)
        params: tuple[Any, ...] = (since, bucket_seconds, -1 if top is None else top)
        if queues is not None:
            params += (_json_list(queues),)
        rows = await self._readers.run(lambda c: c.execute(sql, params).fetchall())
        return [FinishedCount(*r) for r in rows]

    async def queue_names(self) -> list[str]:
        rows = await self._readers.run(
            lambda c: c.execute("SELECT name FROM queues ORDER BY name").fetchall()
        )
        return [r[0] for r in rows]

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
        await self._write(lambda c: sqlite_claim.touch_worker(c, worker, queues, now))

    async def workers(self) -> list[WorkerSeen]:
        return await self._readers.run(_workers)

    async def forget_workers(self, seen_before: float) -> int:
        sql = "DELETE FROM workers WHERE last_seen < ?"
        return await self._write(lambda c: c.execute(sql, (seen_before,)).rowcount)  # type: ignore[no-any-return]

    # problems
    async def type_activity(
        self, since: float, queues: Sequence[str] | None = None
    ) -> list[TypeActivity]:
        among = "" if queues is None else f"AND queue IN {IN_JSON.format(n=2)}"
        sql = TYPE_ACTIVITY.format(among=among)
        params = (since,) if queues is None else (since, _json_list(queues))
        rows = await self._readers.run(lambda c: c.execute(sql, params).fetchall())
        return [TypeActivity(*r) for r in rows]

    async def queued_ids(self, queue: str, type: str | None, limit: int) -> list[str]:
        sql, params = (QUEUED_IDS, (queue, limit)) if type is None else (
            QUEUED_IDS_OF_TYPE, (queue, type, limit))  # fmt: skip
        rows = await self._readers.run(lambda c: c.execute(sql, params).fetchall())
        return [r[0] for r in rows]

    async def failing_jobs(self, min_attempt: int, limit: int) -> list[Job]:
        sql = (
            f"{SELECT_JOB} WHERE state IN (?, ?, ?) AND error IS NOT NULL AND attempt >= ? "
            "ORDER BY seq LIMIT ?"
        )
        return await self._select_jobs(sql, (*LIVE_STATES, min_attempt, limit))

    async def deadlines_before(self, at: float, limit: int) -> list[Job]:
        sql = (
            f"{SELECT_JOB} WHERE state IN (?, ?, ?) AND deadline_at IS NOT NULL "
            "AND deadline_at <= ? ORDER BY deadline_at LIMIT ?"
        )
        return await self._select_jobs(sql, (*LIVE_STATES, at, limit))

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
    if not jobs:
        return []
    c.executemany(
        "INSERT OR IGNORE INTO queues (name, paused, updated_at) VALUES (?, 0, ?)",
        [(queue, now) for queue in {j.queue for j in jobs}],
    )
    out: list[tuple[Job, bool]] = []
    plain: list[Job] = []  # consecutive jobs with no unique key or retry link: one executemany
    for job in jobs:
        if job.unique_key is None and job.retry_of is None:
            plain.append(job)
            continue
        out += _insert_plain(c, plain)
        plain = []
        out.append(_insert_special(c, job))
    return out + _insert_plain(c, plain)


def _hand_over(c: sqlite3.Connection, job: Job, spec: ClaimSpec, key: str, now: float,
               touch: bool) -> Job | None:  # fmt: skip
    """`job` inserted leased to the claim (sqlite_handover), or None and nothing written."""
    c.execute("INSERT OR IGNORE INTO queues (name, paused, updated_at) VALUES (?, 0, ?)",
              (job.queue, now))  # fmt: skip
    handed = sqlite_handover.hand_over(c, job, spec, key, now)
    if handed is not None and touch:
        sqlite_claim.touch_worker(c, spec.worker, spec.queues, now)
    return handed


def _insert_plain(c: sqlite3.Connection, jobs: list[Job]) -> list[tuple[Job, bool]]:
    if not jobs:
        return []
    if all(map(is_new, jobs)):
        insert_rows(c, INSERT_NEW_HEAD, len(NEW_COLUMNS), [new_job_values(j) for j in jobs])
    else:
        insert_rows(c, INSERT_JOB_HEAD, len(INSERT_COLUMNS), [job_values(j) for j in jobs])
    # one writer, statements in order: the rows got consecutive seqs ending at the last rowid
    (last,) = c.execute("SELECT last_insert_rowid()").fetchone()
    for offset, job in enumerate(jobs):
        job.seq = last - len(jobs) + 1 + offset
    return [(job, True) for job in jobs]


def _insert_special(c: sqlite3.Connection, job: Job) -> tuple[Job, bool]:
    if job.unique_key is not None:
        existing = c.execute(
            f"{SELECT_JOB} WHERE unique_key = ? AND state IN (?, ?, ?)",
            (job.unique_key, *LIVE_STATES),
        ).fetchone()
        if existing is not None:
            return job_from_row(existing), False
    insert_rows(c, INSERT_JOB_HEAD, len(INSERT_COLUMNS), [job_values(job)])
    (job.seq,) = c.execute("SELECT last_insert_rowid()").fetchone()
    if job.retry_of is not None:
        c.execute("UPDATE jobs SET retried_by = ? WHERE id = ?", (job.id, job.retry_of))
    return job, True


def _transition(c: sqlite3.Connection, steps: Sequence[Step], now: float) -> list[StepResult]:
    """Decide every step on the rows as they are now, then write the plans in bulk."""
    jobs = _get_many(c, list({step.job_id for step in steps}))
    results, rounds = decide_all(steps, jobs, now)
    for decisions in rounds:
        writes = _Writes(now)
        for decided in decisions:
            writes.add(decided)
        writes.flush(c)
    return results


def _get_many(c: sqlite3.Connection, ids: list[str]) -> dict[str, Job]:
    found: dict[str, Job] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        sql = f"{SELECT_JOB} WHERE id IN ({', '.join('?' * len(chunk))})"
        for row in c.execute(sql, chunk):
            job = job_from_row(row)
            found[job.id] = job
    return found


ATTEMPT_END = ("finished_at", "outcome", "error")


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class _Writes:
    """Plans waiting to be written, grouped so that each group is one multi-row UPDATE."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.updates: dict[tuple[tuple[str, ...], tuple[str, ...]], list[list[Any]]] = {}
        self.attempts: list[tuple[Any, ...]] = []
        self.callbacks: list[tuple[Any, ...]] = []
        self.spawns: list[Job] = []  # new jobs a plan makes (respawn on failure)

    def add(self, decided: Decided) -> None:
        job, plan, changes = decided.moved.job, decided.plan, decided.changes
        params = [encode(k, v) for k, v in changes.items()]
        self.updates.setdefault(decided.shape, []).append([*params, job.id])
        if plan.attempt_outcome is not None:
            error = encode("error", plan.attempt_error)
            self.attempts.append((self.now, plan.attempt_outcome, error, job.id, decided.attempt))
        if plan.callback and job.callback_url:
            self.callbacks.append((job.id, job.callback_url, self.now))
        if plan.spawn is not None:
            self.spawns.append(plan.spawn)

    def flush(self, c: sqlite3.Connection) -> None:
        for (columns, allowed), rows in self.updates.items():
            where = f"jobs.state IN ({', '.join(_quoted(state) for state in allowed)})"
            if update_rows(c, "jobs", columns, ["id"], rows, where) != len(rows):
                # cannot happen with one writer deciding on fresh rows; the guard stays
                raise RuntimeError("compare-and-set failed inside the writer")
        update_rows(c, "attempts", ATTEMPT_END, ["job_id", "attempt"], self.attempts)
        insert_rows(c, "INSERT INTO callbacks (job_id, url, next_at)", 3, self.callbacks)
        _insert(c, self.spawns, self.now)
        self.updates.clear()
        self.attempts.clear()
        self.callbacks.clear()
        self.spawns.clear()


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
            coalesce((SELECT min(deadline_at) FROM jobs WHERE state IN ('scheduled', 'queued')
                      AND deadline_at IS NOT NULL), 1e18),
            coalesce((SELECT min(purge_at) FROM jobs WHERE purge_at IS NOT NULL), 1e18),
            coalesce((SELECT min(next_at) FROM callbacks), 1e18))"""
    ).fetchone()
    value: float = row[0]
    return None if value >= 1e18 else value


def _append_logs(
    c: sqlite3.Connection,
    job_id: str,
    entries: Sequence[tuple[float, str, str]],
    attempt: int,
    max_bytes: int | None,
) -> int:
    (last,) = c.execute(
        "SELECT coalesce(max(seq), 0) FROM logs WHERE job_id = ?", (job_id,)
    ).fetchone()
    row = c.execute("SELECT log_bytes FROM jobs WHERE id = ?", (job_id,)).fetchone()
    kept, size = loglimit.admit(entries, row[0] if row else 0, max_bytes)
    if not kept:
        return int(last)
    rows = [(job_id, last + i, attempt, t, s, x) for i, (t, s, x) in enumerate(kept, 1)]
    c.executemany(
        "INSERT INTO logs (job_id, seq, attempt, time, stream, text) VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    c.execute("UPDATE jobs SET log_bytes = ? WHERE id = ?", (size, job_id))
    return int(last) + len(rows)


def _logs(
    c: sqlite3.Connection,
    job_id: str,
    after: int,
    tail: int | None,
    limit: int,
    max_chars: int | None = None,
) -> list[LogEntry]:
    cols = "seq, time, stream, text, attempt"
    if tail is not None:
        rows = c.execute(
            f"SELECT {cols} FROM logs WHERE job_id = ? AND seq > ? ORDER BY seq DESC LIMIT ?",
            (job_id, after, min(tail, limit)),
        ).fetchall()
        rows.reverse()
        return [LogEntry(*r) for r in rows]
    cursor = c.execute(
        f"SELECT {cols} FROM logs WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?",
        (job_id, after, limit),
    )
    return _page(cursor, max_chars)


def _page(cursor: sqlite3.Cursor, max_chars: int | None) -> list[LogEntry]:
    """The cursor's entries, row by row, as long as they hold at most `max_chars` of text
    (at least one)."""
    page: list[LogEntry] = []
    chars = 0
    for row in cursor:
        chars += len(row[3])
        if page and max_chars is not None and chars > max_chars:
            break
        page.append(LogEntry(*row))
    cursor.close()
    return page


def _queue_stats(c: sqlite3.Connection) -> list[QueueStats]:
    stats: dict[str, QueueStats] = {}
    for name, paused in c.execute("SELECT name, paused FROM queues ORDER BY name"):
        stats[name] = QueueStats(name, {str(s): 0 for s in State}, None, bool(paused))
    for queue, state, count in c.execute(
        "SELECT queue, state, count(*) FROM jobs GROUP BY queue, state"
    ):
        entry = stats.setdefault(queue, QueueStats(queue, {str(s): 0 for s in State}, None, False))
        entry.counts[state] = count
    for name, oldest in c.execute(OLDEST_QUEUED):
        stats[name].oldest_queued_at = oldest
    return sorted(stats.values(), key=lambda s: s.name)


# each queue's first-come queued job (lowest seq) and when it was created: one index step per
# queue, where min(created_at) read every queued job of the queue (200 ms with 1,000,000)
OLDEST_QUEUED = """
SELECT name, (SELECT created_at FROM jobs INDEXED BY jobs_queue_state
              WHERE jobs.queue = queues.name AND jobs.state = 'queued' ORDER BY jobs.seq LIMIT 1)
FROM queues
"""


# a queue's queued jobs in the order claims take them: the order of jobs_claim / jobs_claim_type
QUEUED_IDS = (
    "SELECT id FROM jobs WHERE state = 'queued' AND queue = ? ORDER BY priority DESC, seq LIMIT ?"
)
QUEUED_IDS_OF_TYPE = (
    "SELECT id FROM jobs WHERE state = 'queued' AND queue = ? AND type = ? "
    "ORDER BY priority DESC, seq LIMIT ?"
)
# live jobs through the state index, finished ones since ? through jobs_finished
# a list of names passed as one JSON parameter ?n (any number of them, one bound value)
IN_JSON = "(SELECT value FROM json_each(?{n}))"
# per (queue, bucket, state); only the `top` (?3) busiest queues by name, the rest as NULL
FINISHED_COUNTS = """
WITH finished AS (
    SELECT queue, CAST((finished_at - ?1) / ?2 AS INTEGER) AS bucket, state FROM jobs
    WHERE finished_at IS NOT NULL AND finished_at >= ?1 {among}),
busiest AS (SELECT queue FROM finished GROUP BY queue ORDER BY count(*) DESC, queue LIMIT ?3)
SELECT CASE WHEN queue IN (SELECT queue FROM busiest) THEN queue END AS shown, bucket, state,
       count(*)
FROM finished GROUP BY shown, bucket, state
"""
NARROWINGS = 3  # rounds of a wide claim (narrow on a reader, claim on the writer)
TYPE_ACTIVITY = """
SELECT queue, type,
       sum(CASE WHEN state = 'queued' THEN 1 ELSE 0 END),
       sum(CASE WHEN state = 'running' THEN 1 ELSE 0 END),
       min(CASE WHEN state = 'queued' THEN max(created_at, run_at) END),
       max(last_heartbeat_at)
FROM (SELECT queue, type, state, created_at, run_at, last_heartbeat_at FROM jobs
      WHERE state IN ('scheduled', 'queued', 'running') {among}
      UNION ALL
      SELECT queue, type, state, created_at, run_at, last_heartbeat_at FROM jobs
      WHERE finished_at IS NOT NULL AND finished_at >= ?1 {among})
GROUP BY queue, type
HAVING sum(CASE WHEN state = 'queued' THEN 1 ELSE 0 END) > 0
ORDER BY queue, type
"""


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


def _new_work(spec: ClaimSpec, jobs: Sequence[Job]) -> list[str] | None:
    """A wide claim handed new work looks only at the queues of that work (it waited because
    its other queues had nothing); other claims at all their queues (None)."""
    if not sqlite_claim.is_wide(spec):
        return None
    asked = set(spec.queues)
    return [q for q in dict.fromkeys(job.queue for job in jobs) if q in asked]


def _json_list(names: Sequence[str] | None) -> str | None:
    return None if names is None else orjson.dumps(list(names)).decode()


def count_sql(q: JobQuery, cap: int) -> tuple[str, list[Any]]:
    """Count the jobs matching `q`'s filters, at most `cap` of them."""
    where, params = _filters(q)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return f"SELECT count(*) FROM (SELECT 1 FROM jobs{clause} LIMIT ?)", [*params, cap]


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
