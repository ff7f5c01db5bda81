"""One new job handed to one waiting claim on PostgreSQL, in one statement.

An enqueue that brings a job a parked claim wants (jobq.engine.handoff) could insert it, then claim
it for the claim, in one transaction: BEGIN, the insert, the claim, COMMIT, four round trips.
After a pause each round trip wakes both processes again: in process, after 20 ms idle,
1.9-2.3 ms, against 1.1 back to back (the pick-up latency runs from a producer's enqueue to an
idle worker holding the job). So the common case, one job for one claim, is one statement in
its own transaction: the job is inserted already leased to the claim, with its attempt opened,
when the claim would have chosen it: its queue is not paused and no queued job the claim
wants comes before it (priority, then age). Otherwise the job is inserted queued and the
claim is handed nothing; it then claims as a woken claim would, and gets the job that comes
first.
"""

from __future__ import annotations

from functools import lru_cache

from jobq.model import ClaimSpec, Job
from jobq.store.postgres.conn import Conn
from jobq.store.postgres.sql import COLUMN_TYPES, leased, touch_worker_sql
from jobq.store.rows import (
    INSERT_COLUMNS,
    JOB_COLUMNS,
    dumps,
    job_from_row,
    job_values,
    worker_dict,
    worker_values,
)

# $1 lease seconds (None: the job's own), $2 now, $3 the worker, $4 the lease key, $5 the
# claim's queues, $6 its types if it names them, then the job's INSERT_COLUMNS
_TARGET = ", ".join(("seq", *INSERT_COLUMNS))
_AS_QUEUED = ", ".join(f"new.{c}" for c in ("seq", *INSERT_COLUMNS))
_TOKEN = "$4::text || '.' || new.seq"  # as a claim's: the lease key and the job's seq
_AS_LEASED = ", ".join(
    ("new.seq", *(_TOKEN if c == "lease_token" else leased(c, "new") for c in INSERT_COLUMNS))
)
_RETURNING = ", ".join(JOB_COLUMNS)


@lru_cache(maxsize=4)
def hand_over_sql(typed: bool, touch: bool = False) -> str:
    """The statement; `typed`: the claim names its types ($6); `touch`: the worker's row is
    written too (its values after the job's). Whether a queued job comes first is read off
    the head of each queue (and type) in the claim index's order: asked as `priority >= the
    new job's`, the plan (made once) read the whole table."""
    kinds = ", unnest($6::text[]) AS t (kind)" if typed else ""
    of_type = " AND type = t.kind" if typed else ""
    first = 6 + typed  # the job's first value
    values = ", ".join(
        f"${i}::{COLUMN_TYPES.get(c, 'text')} AS {c}" for i, c in enumerate(INSERT_COLUMNS, first)
    )
    seen = f"), seen AS ({touch_worker_sql(first + len(INSERT_COLUMNS))}" if touch else ""
    return f"""
WITH new AS (
    SELECT nextval(pg_get_serial_sequence('jobs', 'seq')) AS seq, {values}
), hand AS (
    SELECT NOT EXISTS (SELECT 1 FROM queues WHERE name = new.queue AND paused = 1)
       AND NOT EXISTS (
           SELECT 1 FROM unnest($5::text[]) AS q (name){kinds}, LATERAL (
               SELECT priority FROM jobs WHERE state = 'queued' AND queue = q.name{of_type}
               ORDER BY priority DESC, seq LIMIT 1) AS head
           WHERE head.priority >= new.priority) AS ok
    FROM new
), handed AS (
    INSERT INTO jobs ({_TARGET}) SELECT {_AS_LEASED} FROM new, hand WHERE hand.ok
    RETURNING {_RETURNING}
), queued AS (
    INSERT INTO jobs ({_TARGET}) SELECT {_AS_QUEUED} FROM new, hand WHERE NOT hand.ok
    RETURNING {_RETURNING}
), opened AS (
    INSERT INTO attempts (job_id, attempt, started_at, worker)
    SELECT id, attempt, $2::float8, $3::text FROM handed
), new_queue AS (
    INSERT INTO queues (name, paused, updated_at) SELECT queue, 0, $2::float8 FROM new
    ON CONFLICT (name) DO NOTHING
{seen})
SELECT * FROM handed UNION ALL SELECT * FROM queued
"""


async def hand_over(
    c: Conn, job: Job, spec: ClaimSpec, lease_key: str, now: float, touch: bool
) -> tuple[Job, list[Job]]:
    """Insert `job`, leased to the claim `spec` if the claim would have chosen it, and
    record the claim's worker as seen if `touch`: (the job as inserted, queued; what the
    claim got)."""
    assert spec.queues is not None  # can_hand_over: a claim of listed queues
    params = [
        spec.lease_seconds,
        now,
        dumps(worker_dict(spec.worker)),
        lease_key,
        list(spec.queues),
        *([list(spec.types)] if spec.types else []),
        *job_values(job),
        *(worker_values(spec.worker, spec.queues, now) if touch else []),
    ]
    row = await c.fetchrow(hand_over_sql(bool(spec.types), touch), *params)
    stored = job_from_row(row)
    job.seq = stored.seq
    return job, [stored] if stored.state != job.state else []
