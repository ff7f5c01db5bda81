"""The SQLite store's reads, each run on a reader connection: jobs, listings, logs, queue and
worker overviews, and the SQL that is SQLite's own (the shared statements: jobq.store.job_sql).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

from jobq.model import (
    ID_PREFIX_WINDOW,
    FinishedCount,
    Job,
    JobQuery,
    LogEntry,
    QueueStats,
    TypeActivity,
    WorkerSeen,
    id_prefix_bounds,
)
from jobq.store.job_sql import LIVE, QUEUE_SETTINGS, SELECT_JOB
from jobq.store.job_sql import SQLITE as SQL
from jobq.store.rows import JOB_COLUMNS, held_by, job_from_row, queue_stats, workers_seen


def get(c: sqlite3.Connection, job_id: str) -> Job | None:
    row = c.execute(SQL.get, (job_id,)).fetchone()
    return None if row is None else job_from_row(row)


def logs(
    c: sqlite3.Connection,
    job_id: str,
    after: int,
    tail: int | None,
    limit: int,
    max_chars: int | None = None,
) -> list[LogEntry]:
    if tail is not None:
        rows = c.execute(SQL.logs_tail, (job_id, after, min(tail, limit))).fetchall()
        rows.reverse()
        return [LogEntry(*r) for r in rows]
    return _page(c.execute(SQL.logs_after, (job_id, after, limit)), max_chars)


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


def queue_overview(c: sqlite3.Connection) -> list[QueueStats]:
    pauses = c.execute(SQL.queue_pauses).fetchall()
    counts = c.execute(SQL.state_counts).fetchall()
    retried = c.execute(SQL.retried_counts).fetchall()
    return queue_stats(pauses, counts, c.execute(OLDEST_QUEUED).fetchall(), retried)


# each queue's first-come queued job (lowest seq) and when it was created: one index step per
# queue, where min(created_at) read every queued job of the queue (200 ms with 1,000,000)
OLDEST_QUEUED = """
SELECT name, (SELECT created_at FROM jobs INDEXED BY jobs_queue_state
              WHERE jobs.queue = queues.name AND jobs.state = 'queued' ORDER BY jobs.seq LIMIT 1)
FROM queues
"""


def workers(
    c: sqlite3.Connection, held: bool, queues: Sequence[str] | None = None
) -> list[WorkerSeen]:
    jobs = held_by(held_rows(c, queues)) if held else {}
    return workers_seen(c.execute(SQL.workers).fetchall(), jobs)


def held_rows(c: sqlite3.Connection, queues: Sequence[str] | None) -> list[Any]:
    """The running jobs (worker, id, queue, type): every queue's, or those of `queues`."""
    if queues is None:
        return c.execute(SQL.held).fetchall()
    return c.execute(HELD_AMONG, (json_list(queues),)).fetchall()


def next_due(c: sqlite3.Connection) -> float | None:
    value: float = c.execute(NEXT_DUE).fetchone()[0]
    return None if value >= 1e18 else value


NEXT_DUE = """SELECT min(
    coalesce((SELECT min(run_at) FROM jobs INDEXED BY jobs_due WHERE state = 'scheduled'), 1e18),
    coalesce((SELECT min(lease_expires_at) FROM jobs INDEXED BY jobs_lease
              WHERE state = 'running'), 1e18),
    coalesce((SELECT min(deadline_at) FROM jobs INDEXED BY jobs_deadline
              WHERE state = 'running' AND deadline_at IS NOT NULL), 1e18),
    coalesce((SELECT min(deadline_at) FROM jobs INDEXED BY jobs_waiting_deadline
              WHERE state IN ('scheduled', 'queued') AND deadline_at IS NOT NULL), 1e18),
    coalesce((SELECT min(purge_at) FROM jobs INDEXED BY jobs_purge
              WHERE purge_at IS NOT NULL), 1e18),
    coalesce((SELECT min(next_at) FROM callbacks), 1e18))"""


def finished_counts(
    c: sqlite3.Connection,
    since: float,
    bucket_seconds: float,
    queues: Sequence[str] | None,
    top: int | None,
) -> list[FinishedCount]:
    among = "(SELECT name FROM queues)" if queues is None else IN_JSON.format(n=4)
    sql = FINISHED_COUNTS.format(among=among)
    params: tuple[Any, ...] = (since, bucket_seconds, -1 if top is None else top)
    if queues is not None:
        params += (json_list(queues),)
    return [FinishedCount(*r) for r in c.execute(sql, params).fetchall()]


def type_activity(
    c: sqlite3.Connection, since: float, queues: Sequence[str] | None
) -> list[TypeActivity]:
    among = "" if queues is None else f"AND queue IN {IN_JSON.format(n=2)}"
    sql = TYPE_ACTIVITY.format(among=among)
    params = (since,) if queues is None else (since, json_list(queues))
    return [TypeActivity(*r) for r in c.execute(sql, params).fetchall()]


def json_list(names: Sequence[str] | None) -> str | None:
    return None if names is None else orjson.dumps(list(names)).decode()


# a list of names passed as one JSON parameter ?n (any number of them, one bound value)
IN_JSON = "(SELECT value FROM json_each(?{n}))"
# the problems of some queues (?1, as JSON): through jobs_queue_state, one index range per
# queue and live state, so other queues' jobs are never read
SETTINGS_AMONG = f"{QUEUE_SETTINGS} AND name IN {IN_JSON.format(n=1)}"
FAILING_AMONG = (
    f"{SELECT_JOB} WHERE queue IN {IN_JSON.format(n=1)} AND {LIVE} AND error IS NOT NULL "
    "AND attempt >= ?2 ORDER BY seq LIMIT ?3"
)
DEADLINES_AMONG = (
    f"{SELECT_JOB} WHERE queue IN {IN_JSON.format(n=1)} AND {LIVE} "
    "AND deadline_at IS NOT NULL AND deadline_at <= ?2 ORDER BY deadline_at LIMIT ?3"
)
HELD_AMONG = (
    f"SELECT worker, id, queue, type FROM jobs INDEXED BY jobs_queue_state "
    f"WHERE queue IN {IN_JSON.format(n=1)} AND state = 'running'"
)
# per (queue, bucket, state), with the waits of those that started; only the `top` (?3)
# busiest queues by name, the rest as NULL. One range of jobs_queue_finished per queue (of
# ?4, or of every known queue), read from the index alone.
FINISHED_COUNTS = """
WITH finished AS (
    SELECT queue, CAST((finished_at - ?1) / ?2 AS INTEGER) AS bucket, state,
           max(started_at - run_at, 0) AS waited
    FROM jobs INDEXED BY jobs_queue_finished
    WHERE queue IN {among} AND finished_at >= ?1),
busiest AS (SELECT queue FROM finished GROUP BY queue ORDER BY count(*) DESC, queue LIMIT ?3)
SELECT CASE WHEN queue IN (SELECT queue FROM busiest) THEN queue END AS shown, bucket, state,
       count(*), count(waited), coalesce(sum(waited), 0.0)
FROM finished GROUP BY shown, bucket, state
"""
# live jobs through the state index, finished ones since ?1 through jobs_finished
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


def count_sql(q: JobQuery, cap: int) -> tuple[str, list[Any]]:
    """Count the jobs matching `q`'s filters, at most `cap` of them."""
    source, params = _source(q)
    where, more = _filters(q)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return f"SELECT count(*) FROM (SELECT 1 FROM {source}{clause} LIMIT ?)", [
        *params,
        *more,
        cap,
    ]


def list_sql(q: JobQuery) -> tuple[str, list[Any]]:
    """The SELECT for a job listing, with keyset pagination on (sort value, seq)."""
    source, params = _source(q)
    where, more = _filters(q)
    params += more
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
    columns = ", ".join(JOB_COLUMNS)
    sql = f"SELECT {columns} FROM {source}{clause} ORDER BY {key} {order}{tiebreak} LIMIT ?"
    return sql, [*params, q.limit]


def _source(q: JobQuery) -> tuple[str, list[Any]]:
    """The rows a listing reads: every job, or for an id prefix the first ID_PREFIX_WINDOW
    ids of its range, one walk of the id index whatever else the query asks."""
    if q.id_prefix is None:
        return "jobs", []
    low, high = id_prefix_bounds(q.id_prefix)
    below = "" if high is None else " AND id < ?"
    window = f"(SELECT * FROM jobs WHERE id >= ?{below} ORDER BY id LIMIT ?) AS jobs"
    return window, [low, *([] if high is None else [high]), ID_PREFIX_WINDOW]


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
    if q.retried is not None:
        where.append(f"retried_by IS {'NOT ' if q.retried else ''}NULL")
    if q.id_prefix is not None:
        where.append("substr(id, 1, ?) = ?")
        params += [len(q.id_prefix), q.id_prefix]
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
