"""What a SQLite claim writes into the jobs it leases, and the attempts it opens: shared by the
claim of open queues (claim), the limited claim (limited) and the hand-over (handover)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from jobq.model import Job
from jobq.store.lease_sql import LEASED, LeaseParams
from jobq.store.rows import JOB_COLUMNS, job_from_row
from jobq.store.sqlite.many import insert_rows

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


def opened(c: sqlite3.Connection, rows: Iterable[Any], now: float, worker: str) -> list[Job]:
    """The leased `rows` as jobs, best first, each with its attempt opened."""
    claimed = sorted((job_from_row(r) for r in rows), key=lambda j: (-j.priority, j.seq))
    attempts = [(job.id, job.attempt, now, worker) for job in claimed]
    insert_rows(c, ATTEMPT_HEAD, 4, attempts, ATTEMPT_AGAIN)
    return claimed
