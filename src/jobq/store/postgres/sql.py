"""SQL text of the PostgreSQL store that is built from parts: listings and claims."""

from __future__ import annotations

from typing import Any

from jobq.model import ID_PREFIX_WINDOW, JobQuery, id_prefix_bounds
from jobq.store.lease_sql import LEASED, LeaseParams
from jobq.store.rows import INSERT_COLUMNS, JOB_COLUMNS

COLUMNS = ", ".join(JOB_COLUMNS)
SELECT_JOB = f"SELECT {COLUMNS} FROM jobs"
LIVE_SQL = "state IN ('scheduled', 'queued', 'running')"

# One INSERT for a whole batch: each column arrives as an array, unnest turns them into rows.
COLUMN_TYPES = {
    "priority": "bigint",
    "max_attempts": "bigint",
    "attempt": "bigint",
    "exit_code": "bigint",
    "cancel_requested": "integer",
    "run_at": "float8",
    "lease_seconds": "float8",
    "deadline_seconds": "float8",
    "backoff_base": "float8",
    "backoff_max": "float8",
    "result_ttl": "float8",
    "created_at": "float8",
    "updated_at": "float8",
    "started_at": "float8",
    "finished_at": "float8",
    "last_heartbeat_at": "float8",
    "lease_expires_at": "float8",
    "deadline_at": "float8",
    "purge_at": "float8",
}
INSERT_MANY = (
    f"INSERT INTO jobs ({', '.join(INSERT_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"${i}::{COLUMN_TYPES.get(c, 'text')}[]" for i, c in enumerate(INSERT_COLUMNS, 1))
    + ") RETURNING id, seq"
)
# The same, with the batch's queues recorded (if new) in the same statement: one round trip.
# A data-modifying WITH runs whether or not the rest refers to it.
_QUEUES_AT = len(INSERT_COLUMNS) + 1
INSERT_MANY_AND_QUEUES = (
    f"WITH new_queues AS (INSERT INTO queues (name, paused, updated_at) "
    f"SELECT unnest(${_QUEUES_AT}::text[]), 0, ${_QUEUES_AT + 1}::float8 "
    f"ON CONFLICT (name) DO NOTHING) {INSERT_MANY}"
)
# A job with a unique_key: skipped when a live job holds the key (the partial unique index).
INSERT_UNIQUE = (
    f"INSERT INTO jobs ({', '.join(INSERT_COLUMNS)}) "
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(INSERT_COLUMNS) + 1))}) "
    f"ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND {LIVE_SQL} DO NOTHING "
    "RETURNING seq"
)

# a job's state, in tests that only a lookup by key may serve: `state = 'queued'` as such
# lets the planner read every job in that state through the indexes that hold it (the claim
# indexes' predicate, jobs_lease's, jobs_state) when the statistics count few such jobs, as
# they do for a new table or a queue that filled since its last analyze (jobq_pick's lock
# does the same, migration 0006)
STATE_BY_KEY = "coalesce(jobs.state, '')"
STILL_QUEUED = f"{STATE_BY_KEY} = 'queued'"

# a claim of named jobs: paused queues are skipped inside the query (a subquery on a tiny
# table), not read first; the jobs are found by id
NOT_PAUSED = "queue NOT IN (SELECT name FROM queues WHERE paused = 1)"
LOCK_NAMED = (
    f"SELECT seq FROM jobs WHERE {STILL_QUEUED} AND queue = ANY($1::text[]) "
    f"AND id = ANY($2::text[]) AND {NOT_PAUSED} "
    "ORDER BY priority DESC, seq LIMIT $3 FOR UPDATE SKIP LOCKED"
)
# what a claim writes into a job (jobq.store.lease_sql): $1 the lease seconds (None: the job's
# own), $2 now, $3 the worker (the lease token is the claim's)
PARAMS = LeaseParams(seconds="$1::float8", now="$2::float8", worker="$3")
leased = PARAMS.leased

# the lease a claim gives each `picked (seq, token)` row, found by key
_LEASE_SET = ",\n    ".join(f"{c} = {leased(c, 'jobs')}" for c in LEASED)
LEASE = f"""
UPDATE jobs SET
    {_LEASE_SET},
    lease_token = picked.token
FROM picked
WHERE jobs.seq = picked.seq AND {STILL_QUEUED}
RETURNING {", ".join(f"jobs.{c}" for c in JOB_COLUMNS)}
"""
# named jobs, locked beforehand: $4 their seqs, $5 their tokens
CLAIM = f"""
WITH picked AS (SELECT * FROM unnest($4::bigint[], $5::text[]) AS p (seq, token))
{LEASE}"""
# a claim in one statement: jobq_picked (migrations 0004, 0006) locks the best jobs ($4 queues,
# $5 types, $7 how many), the update leases them (tokens from the key $6), the insert opens their
# attempts (a released attempt gave its number back: the next claim starts that row afresh)
_OPENED = """opened AS (
    INSERT INTO attempts (job_id, attempt, started_at, worker)
    SELECT id, attempt, $2::float8, $3::text FROM claimed
    ON CONFLICT (job_id, attempt) DO UPDATE SET started_at = excluded.started_at,
        worker = excluded.worker, finished_at = NULL, outcome = NULL, error = NULL
)"""
CLAIM_PICKED = f"""
WITH picked AS (
    SELECT seq, $6::text || '.' || seq AS token
    FROM jobq_picked($4::text[], $5::text[], $7::integer) AS seq
), claimed AS ({LEASE}), {_OPENED}
SELECT * FROM claimed
"""
# chosen jobs leased and their attempts opened in one statement: $4 their seqs, $5 their tokens
CLAIM_OPENED = f"""
WITH picked AS (SELECT * FROM unnest($4::bigint[], $5::text[]) AS p (seq, token)),
claimed AS ({LEASE}), {_OPENED}
SELECT * FROM claimed
"""
# a released attempt gave its number back: the next claim starts that row afresh
OPEN_ATTEMPTS = (
    "INSERT INTO attempts (job_id, attempt, started_at, worker) "
    "SELECT unnest($1::text[]), unnest($2::bigint[]), $3::float8, $4::text "
    "ON CONFLICT (job_id, attempt) DO UPDATE SET started_at = excluded.started_at, "
    "worker = excluded.worker, finished_at = NULL, outcome = NULL, error = NULL"
)


def touch_worker_sql(first: int) -> str:
    """Record a worker as seen: its name, host, pid, queues (JSON), now and slots are the
    parameters from `$first` on."""
    name, host, pid, queues, now, slots = (f"${i}" for i in range(first, first + 6))
    return (
        "INSERT INTO workers (name, host, pid, queues, last_seen, slots) "
        f"VALUES ({name}, {host}, {pid}, {queues}, {now}, {slots}::integer) "
        "ON CONFLICT (name, host, pid) DO UPDATE SET queues = excluded.queues, "
        "last_seen = excluded.last_seen, slots = excluded.slots"
    )


TOUCH_WORKER = touch_worker_sql(1)  # a claim's, in the claim's transaction


NEXT_DUE = """SELECT least(
    (SELECT min(run_at) FROM jobs WHERE state = 'scheduled'),
    (SELECT min(lease_expires_at) FROM jobs WHERE state = 'running'),
    (SELECT min(deadline_at) FROM jobs WHERE state = 'running' AND deadline_at IS NOT NULL),
    (SELECT min(deadline_at) FROM jobs
     WHERE state IN ('scheduled', 'queued') AND deadline_at IS NOT NULL),
    (SELECT min(purge_at) FROM jobs WHERE purge_at IS NOT NULL),
    (SELECT min(next_at) FROM callbacks))"""


class Params:
    """Positional parameters ($1, $2, ...) collected while a query is built."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any, cast: str = "") -> str:
        self.values.append(value)
        return f"${len(self.values)}{cast}"


def count_sql(q: JobQuery, cap: int) -> tuple[str, list[Any]]:
    """Count the jobs matching `q`'s filters, at most `cap` of them."""
    p = Params()
    source, where = _source(q, p), _filters(q, p)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    sql = f"SELECT count(*) FROM (SELECT 1 FROM {source}{clause} LIMIT {p.add(cap)}) AS hits"
    return sql, p.values


def list_sql(q: JobQuery) -> tuple[str, list[Any]]:
    """The SELECT for a job listing, with keyset pagination on (sort value, seq)."""
    p = Params()
    source, where = _source(q, p), _filters(q, p)
    key = "seq" if q.sort == "seq" else f"coalesce({q.sort}, 0)"
    order = "DESC" if q.descending else "ASC"
    if q.after is not None:
        op = "<" if q.descending else ">"
        if q.sort == "seq":
            where.append(f"seq {op} {p.add(int(q.after[1]), '::bigint')}")
        else:
            low = p.add(float(q.after[0]), "::float8")
            where.append(f"({key}, seq) {op} ({low}, {p.add(int(q.after[1]), '::bigint')})")
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    tiebreak = "" if q.sort == "seq" else f", seq {order}"
    sql = f"SELECT {COLUMNS} FROM {source}{clause} ORDER BY {key} {order}{tiebreak} "
    return sql + f"LIMIT {p.add(q.limit)}", p.values


def _source(q: JobQuery, p: Params) -> str:
    """The rows a listing reads: every job, or for an id prefix the first ID_PREFIX_WINDOW
    ids of its range, one walk of the id index whatever else the query asks."""
    if q.id_prefix is None:
        return "jobs"
    low, high = id_prefix_bounds(q.id_prefix)
    below = "" if high is None else f" AND id < {p.add(high, '::text')}"
    window = f"id >= {p.add(low, '::text')}{below} ORDER BY id LIMIT {p.add(ID_PREFIX_WINDOW)}"
    return f"(SELECT * FROM jobs WHERE {window}) AS jobs"


def _filters(q: JobQuery, p: Params) -> list[str]:
    where: list[str] = []
    for column, values in (
        ("queue", q.queues),
        ("type", q.types),
        ("state", q.states),
        ("id", q.ids),
    ):
        if values:
            where.append(f"{column} = ANY({p.add([str(v) for v in values], '::text[]')})")
    if q.owner is not None:
        where.append(f"owner = {p.add(q.owner)}")
    if q.retried is not None:
        where.append(f"retried_by IS {'NOT ' if q.retried else ''}NULL")
    if q.id_prefix is not None:
        where.append(f"starts_with(id, {p.add(q.id_prefix, '::text')})")
    for name, value in q.metadata.items():
        where.append(f"(metadata::jsonb ->> {p.add(name, '::text')}) = {p.add(value, '::text')}")
    for column, low, high in (
        ("created_at", q.created_after, q.created_before),
        ("started_at", q.started_after, q.started_before),
        ("finished_at", q.finished_after, q.finished_before),
    ):
        if low is not None:
            where.append(f"{column} >= {p.add(float(low), '::float8')}")
        if high is not None:
            where.append(f"{column} < {p.add(float(high), '::float8')}")
    return where


# each queue's first-come queued job (lowest seq) and when it was created, read in the order
# of jobs_queue_state: one index step per queue, where min(created_at) read every queued job
OLDEST_QUEUED = """
SELECT name, (SELECT created_at FROM jobs
              WHERE jobs.queue = queues.name AND jobs.state = 'queued'
              ORDER BY jobs.queue, jobs.state, jobs.seq LIMIT 1)
FROM queues
"""
