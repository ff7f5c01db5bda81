"""The PostgreSQL store's reads: logs, queue and worker overviews, and the SQL that is
PostgreSQL's own (the shared statements: jobq.store.job_sql; listings: jobq.store.postgres.sql).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jobq.model import FinishedCount, LogEntry, QueueStats, TypeActivity, WorkerSeen
from jobq.store.job_sql import LIVE, QUEUE_SETTINGS, SELECT_JOB
from jobq.store.job_sql import POSTGRES as SQL
from jobq.store.postgres.conn import Conn
from jobq.store.postgres.sql import OLDEST_QUEUED
from jobq.store.rows import held_by, queue_stats, workers_seen


async def logs(
    c: Conn, job_id: str, after: int, tail: int | None, limit: int, max_chars: int | None
) -> list[LogEntry]:
    if tail is not None:
        rows = list(reversed(await c.fetch(SQL.logs_tail, job_id, after, min(tail, limit))))
    elif max_chars is not None:
        rows = await c.fetch(LOG_PAGE, job_id, after, limit, max_chars)
    else:
        rows = await c.fetch(SQL.logs_after, job_id, after, limit)
    return [LogEntry(*r) for r in rows]


async def queue_overview(c: Conn) -> list[QueueStats]:
    pauses = await c.fetch(SQL.queue_pauses)
    counts = await c.fetch(SQL.state_counts)
    retried = await c.fetch(SQL.retried_counts)
    return queue_stats(pauses, counts, await c.fetch(OLDEST_QUEUED), retried)


async def workers(c: Conn, held: bool, queues: Sequence[str] | None = None) -> list[WorkerSeen]:
    jobs = held_by(await held_rows(c, queues)) if held else {}
    return workers_seen(await c.fetch(SQL.workers), jobs)


async def held_rows(c: Conn, queues: Sequence[str] | None) -> list[Any]:
    """The running jobs (worker, id, queue, type): every queue's, or those of `queues`."""
    if queues is None:
        return list(await c.fetch(SQL.held))
    return list(await c.fetch(HELD_AMONG, list(queues)))


async def finished_counts(
    c: Conn, since: float, bucket_seconds: float, queues: Sequence[str] | None, top: int | None
) -> list[FinishedCount]:
    if queues is None:
        rows = await c.fetch(FINISHED_COUNTS.format(among=EVERY_QUEUE), since, bucket_seconds, top)
    else:
        sql = FINISHED_COUNTS.format(among="(SELECT DISTINCT unnest($4::text[]))")
        rows = await c.fetch(sql, since, bucket_seconds, top, list(queues))
    return [FinishedCount(*r) for r in rows]


async def type_activity(c: Conn, since: float, queues: Sequence[str] | None) -> list[TypeActivity]:
    names = None if queues is None else list(queues)
    return [TypeActivity(*r) for r in await c.fetch(TYPE_ACTIVITY, since, names)]


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
# the problems of some queues ($1): through jobs_queue_state, one index range per queue and
# live state, so other queues' jobs are never read
SETTINGS_AMONG = f"{QUEUE_SETTINGS} AND name = ANY($1::text[])"
FAILING_AMONG = (
    f"{SELECT_JOB} WHERE queue = ANY($1::text[]) AND {LIVE} AND error IS NOT NULL "
    "AND attempt >= $2 ORDER BY seq LIMIT $3"
)
DEADLINES_AMONG = (
    f"{SELECT_JOB} WHERE queue = ANY($1::text[]) AND {LIVE} "
    "AND deadline_at IS NOT NULL AND deadline_at <= $2 ORDER BY deadline_at LIMIT $3"
)
# $2: the queues to look at, NULL for all
AMONG = "($2::text[] IS NULL OR queue = ANY($2::text[]))"
HELD_AMONG = (
    "SELECT worker, id, queue, type FROM jobs WHERE queue = ANY($1::text[]) AND state = 'running'"
)
EVERY_QUEUE = "(SELECT name FROM queues)"
# per (queue, bucket, state), with the waits of those that started; only the $3 busiest
# queues by name (NULL: all), the rest as NULL. One range of jobs_queue_finished per queue
# (of $4, or of every known queue): a tenant's statistics read only its own queues' entries.
FINISHED_COUNTS = """
WITH finished AS (
    SELECT jobs.queue, floor((finished_at - $1::float8) / $2::float8)::integer AS bucket, state,
           CASE WHEN started_at IS NOT NULL THEN GREATEST(started_at - run_at, 0) END AS waited
    FROM {among} AS q (name)
    JOIN jobs ON jobs.queue = q.name AND finished_at >= $1::float8),
busiest AS (SELECT queue FROM finished GROUP BY queue ORDER BY count(*) DESC, queue LIMIT $3)
SELECT CASE WHEN queue IN (SELECT queue FROM busiest) THEN queue END AS shown, bucket, state,
       count(*)::integer, count(waited)::integer, coalesce(sum(waited), 0)::float8
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
