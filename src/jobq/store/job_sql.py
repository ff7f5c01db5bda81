"""The SQL both stores share for jobs, queues, workers, logs and callbacks: each statement
written once.

Written in the dialect SQLite and PostgreSQL share, with `?` placeholders (SQLite's), or
`?N` where a statement uses one value twice (SQLite reads ?N too); `JobSql.for_postgres()`
numbers them ($1, $2, ...) for asyncpg and drops SQLite's `INDEXED BY`. The duties' and the
problems' statements name their partial index: SQLite keeps no statistics unless told to, and
without them it prefers `jobs_state` (state, seq) for any `state = ...` term, which reads every
waiting job (1,000,000 waiting jobs: 180-300 ms a statement, each second) where the partial
index reads the few jobs due. PostgreSQL plans from its statistics.

What the two databases do differently (claims, hand-overs, inserts, grouped writes, listings'
filters, the duties' overview queries) lives in each store's package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from jobq.store.rows import JOB_COLUMNS

SELECT_JOB = f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs"
LIVE = "state IN ('scheduled', 'queued', 'running')"
WAITING_DEADLINE = "state IN ('scheduled', 'queued') AND deadline_at IS NOT NULL"
RUNNING_DEADLINE = "state = 'running' AND deadline_at IS NOT NULL"
LOG_COLUMNS = "seq, time, stream, text, attempt"
QUEUE_SETTINGS = (
    "SELECT name, operator_paused, concurrency, rate, rate_period, per_key, aging, key_weights "
    "FROM queues "
    "WHERE paused = 1"
)
# whether a queue is closed to the claim statements, from its pause and its limits' row
_CLOSED = (
    "CASE WHEN {pause} = 1 OR {limit}.concurrency IS NOT NULL OR {limit}.rate IS NOT NULL "
    "OR {limit}.per_key IS NOT NULL OR {limit}.aging IS NOT NULL THEN 1 ELSE 0 END"
)
LIVE_KEYED = "concurrency_key IS NOT NULL AND state IN ('scheduled', 'queued', 'running')"


@dataclass(frozen=True)
class JobSql:
    """The shared statements, by name (in SQLite's placeholders unless made by
    `for_postgres`)."""

    ping: str = "SELECT 1"
    get: str = f"{SELECT_JOB} WHERE id = ?"
    # live jobs by key: the literal states let SQLite use the partial index jobs_unique_live
    live_by_unique_key: str = f"{SELECT_JOB} WHERE unique_key = ? AND {LIVE}"

    # background duties
    due_scheduled: str = (
        "SELECT id FROM jobs INDEXED BY jobs_due WHERE state = 'scheduled' AND run_at <= ? "
        "ORDER BY run_at LIMIT ?"
    )
    # ?1 now, ?2 how many
    overdue: str = (
        "SELECT id FROM jobs INDEXED BY jobs_lease "
        "WHERE state = 'running' AND lease_expires_at <= ?1 UNION "
        f"SELECT id FROM jobs INDEXED BY jobs_deadline WHERE {RUNNING_DEADLINE} "
        "AND deadline_at <= ?1 UNION "
        f"SELECT id FROM jobs INDEXED BY jobs_waiting_deadline WHERE {WAITING_DEADLINE} "
        "AND deadline_at <= ?1 LIMIT ?2"
    )
    due_purge: str = "SELECT id FROM jobs WHERE purge_at <= ? ORDER BY purge_at LIMIT ?"
    # ?1 the error (JSON), ?2 now, ?3 purge_at, ?4 the job's id
    fail_unprocessable: str = (
        "UPDATE jobs SET state = 'failed', error = ?1, finished_at = ?2, updated_at = ?2, "
        "purge_at = ?3, lease_token = NULL, lease_expires_at = NULL, cancel_requested = 0 "
        f"WHERE id = ?4 AND {LIVE}"
    )
    end_attempt: str = (
        "UPDATE attempts SET finished_at = ?, outcome = 'failed', error = ? "
        "WHERE job_id = ? AND finished_at IS NULL"
    )

    # attempts and logs
    attempts: str = (
        "SELECT job_id, attempt, started_at, finished_at, worker, outcome, error "
        "FROM attempts WHERE job_id = ? ORDER BY attempt"
    )
    last_log_seq: str = "SELECT coalesce(max(seq), 0) FROM logs WHERE job_id = ?"
    log_bytes: str = "SELECT log_bytes FROM jobs WHERE id = ?"
    set_log_bytes: str = "UPDATE jobs SET log_bytes = ? WHERE id = ?"
    logs_after: str = (
        f"SELECT {LOG_COLUMNS} FROM logs WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?"
    )
    logs_tail: str = (
        f"SELECT {LOG_COLUMNS} FROM logs WHERE job_id = ? AND seq > ? ORDER BY seq DESC LIMIT ?"
    )

    # queues
    queue_pauses: str = "SELECT name, operator_paused FROM queues ORDER BY name"
    state_counts: str = "SELECT queue, state, count(*) FROM jobs GROUP BY queue, state"
    # through the partial index jobs_retried: its size is the retried jobs, not the table
    retried_counts: str = (
        "SELECT queue, state, count(*) FROM jobs WHERE retried_by IS NOT NULL GROUP BY queue, state"
    )
    queue_names: str = "SELECT name FROM queues ORDER BY name"
    # a queue's `paused` closes it to the claim statements: set by an operator's pause
    # (operator_paused) or by a flow limit (then only the limited claim leases its jobs)
    set_paused: str = (
        "INSERT INTO queues (name, paused, operator_paused, updated_at) VALUES (?1, ?2, ?2, ?3) "
        "ON CONFLICT (name) DO UPDATE SET operator_paused = excluded.operator_paused, "
        f"paused = {_CLOSED.format(pause='excluded.operator_paused', limit='queues')}, "
        "updated_at = excluded.updated_at"
    )
    set_limits: str = (
        "INSERT INTO queues (name, paused, operator_paused, concurrency, rate, rate_period, "
        "per_key, aging, key_weights, updated_at) VALUES (?1, ?2, 0, ?3, ?4, ?5, ?7, ?8, ?9, ?6) "
        "ON CONFLICT (name) DO UPDATE SET concurrency = excluded.concurrency, "
        "rate = excluded.rate, rate_period = excluded.rate_period, per_key = excluded.per_key, "
        "aging = excluded.aging, key_weights = excluded.key_weights, "
        f"paused = {_CLOSED.format(pause='queues.operator_paused', limit='excluded')}, "
        "updated_at = excluded.updated_at"
    )
    # a queue made keyed: its live jobs without a key share the key '', and each live key
    # gets its place in the turns
    key_the_unkeyed: str = (
        "UPDATE jobs SET concurrency_key = '' WHERE queue = ? AND concurrency_key IS NULL "
        "AND state IN ('scheduled', 'queued', 'running')"
    )
    seat_live_keys: str = (
        "INSERT INTO queue_keys (queue, key, turn) SELECT DISTINCT queue, concurrency_key, 0 "
        f"FROM jobs WHERE queue = ? AND {LIVE_KEYED} ON CONFLICT (queue, key) DO NOTHING"
    )
    # a queue no longer keyed: its keys leave the turns
    forget_keys: str = "DELETE FROM queue_keys WHERE queue = ?"
    # the queues with a setting (each is closed), through the partial index queues_paused
    queue_settings: str = f"{QUEUE_SETTINGS} ORDER BY name"

    # workers
    workers: str = (
        "SELECT name, host, pid, queues, last_seen, slots FROM workers ORDER BY last_seen DESC"
    )
    # the running jobs and who holds them: every queue's, or (held_among) those of the queues
    # ?, through jobs_queue_state, so a tenant's workers page reads only its own queues' jobs
    held: str = "SELECT worker, id, queue, type FROM jobs WHERE state = 'running'"
    forget_workers: str = "DELETE FROM workers WHERE last_seen < ?"

    # problems; a queue's queued jobs in the order claims take them (jobs_claim's,
    # jobs_claim_type's)
    queued_ids: str = (
        "SELECT id FROM jobs WHERE state = 'queued' AND queue = ? "
        "ORDER BY priority DESC, seq LIMIT ?"
    )
    queued_ids_of_type: str = (
        "SELECT id FROM jobs WHERE state = 'queued' AND queue = ? AND type = ? "
        "ORDER BY priority DESC, seq LIMIT ?"
    )
    failing_jobs: str = (
        f"{SELECT_JOB} INDEXED BY jobs_failing WHERE {LIVE} AND error IS NOT NULL "
        "AND attempt >= ? ORDER BY seq LIMIT ?"
    )
    # ?1 the time, ?2 how many: the running and the waiting jobs, each through its index
    deadlines_before: str = (
        f"SELECT * FROM ({SELECT_JOB} INDEXED BY jobs_deadline WHERE {RUNNING_DEADLINE} "
        f"AND deadline_at <= ?1 UNION ALL {SELECT_JOB} INDEXED BY jobs_waiting_deadline "
        f"WHERE {WAITING_DEADLINE} AND deadline_at <= ?1) AS due ORDER BY deadline_at LIMIT ?2"
    )

    # callback outbox
    delete_callback: str = "DELETE FROM callbacks WHERE id = ?"
    retry_callback: str = (
        "UPDATE callbacks SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE id = ?"
    )

    def for_postgres(self) -> JobSql:
        """The same statements with asyncpg's numbered placeholders, without index hints."""
        return JobSql(**{f.name: numbered(unhinted(getattr(self, f.name))) for f in fields(self)})


def unhinted(sql: str) -> str:
    """`sql` without SQLite's `INDEXED BY` clauses."""
    return re.sub(r" INDEXED BY \w+", "", sql)


def numbered(sql: str) -> str:
    """`?` placeholders as $1, $2, ... and `?N` as $N (no statement here has a `?` inside a
    literal, nor mixes the two forms)."""
    if re.search(r"\?\d", sql):
        assert not re.search(r"\?(?!\d)", sql), sql
        return re.sub(r"\?(\d+)", r"$\1", sql)
    count = 0

    def next_number(_: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"${count}"

    return re.sub(r"\?", next_number, sql)


SQLITE = JobSql()
POSTGRES = SQLITE.for_postgres()
