"""One new job handed to one waiting claim on SQLite, inserted already leased.

Inserting a job a parked claim wants (jobq.engine.handoff) queued and then running the claim's
UPDATE on the row just written would put the row in the queued indexes and take it out at
once, and the claim would search for what it already knows. So in the common case, one job
for one claim (`can_hand_over`), the job is inserted leased, its attempt opened, when the claim
would have chosen it: its queue is not paused and no queued job of the claim's queues (and
types) comes first (priority, then age: a job as urgent or more, since the new one is the
youngest). The lease is the claim's own (`jobq.store.lease_sql`). Otherwise nothing is written
and the caller inserts and claims as usual.
"""

from __future__ import annotations

import sqlite3
from functools import lru_cache

from jobq.model import ClaimSpec, Job
from jobq.store.rows import (
    INSERT_COLUMNS,
    JOB_COLUMNS,
    dumps,
    job_from_row,
    job_values,
    worker_dict,
)
from jobq.store.sqlite.lease import ATTEMPT_HEAD, leased

_FIRST_VALUE = 5  # ?1-?4 are the lease's (sqlite_claim.PARAMS, TOKEN); the job's values follow


@lru_cache(maxsize=64)
def hand_over_sql(queues: int, types: int) -> str:
    """The leased insert for a claim of `queues` queues and `types` types (0: any type)."""
    new = ", ".join(f"?{i} AS {c}" for i, c in enumerate(INSERT_COLUMNS, _FIRST_VALUE))
    at = _FIRST_VALUE + len(INSERT_COLUMNS)
    in_queues = ", ".join(f"?{i}" for i in range(at, at + queues))
    in_types = ", ".join(f"?{i}" for i in range(at + queues, at + queues + types))
    index, of_type = (
        ("jobs_claim_type", f" AND type IN ({in_types})") if types else ("jobs_claim", "")
    )
    columns = ", ".join(("seq", *INSERT_COLUMNS))
    values = ", ".join(("new.seq", *(leased(c, "new") for c in INSERT_COLUMNS)))
    return f"""
INSERT INTO jobs ({columns})
SELECT {values}
FROM (SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'jobs'), 0) + 1 AS seq,
             {new}) AS new
WHERE NOT EXISTS (SELECT 1 FROM queues WHERE name = new.queue AND paused = 1)
  AND NOT EXISTS (SELECT 1 FROM jobs INDEXED BY {index} WHERE state = 'queued'
                  AND queue IN ({in_queues}){of_type} AND priority >= new.priority)
RETURNING {", ".join(JOB_COLUMNS)}"""


def hand_over(
    c: sqlite3.Connection, job: Job, spec: ClaimSpec, lease_key: str, now: float
) -> Job | None:
    """Insert `job` leased to the claim `spec` if the claim would have chosen it: the job as
    the claim got it (and `job.seq` set), or None, nothing written, if it would not."""
    assert spec.queues is not None  # can_hand_over: a claim of listed queues
    worker = dumps(worker_dict(spec.worker))
    types = spec.types or []
    params = [spec.lease_seconds, lease_key, now, worker, *job_values(job), *spec.queues, *types]
    row = c.execute(hand_over_sql(len(spec.queues), len(types)), params).fetchone()
    if row is None:
        return None
    got = job_from_row(row)
    job.seq = got.seq
    c.execute(f"{ATTEMPT_HEAD} VALUES (?, ?, ?, ?)", (got.id, got.attempt, now, worker))
    return got
