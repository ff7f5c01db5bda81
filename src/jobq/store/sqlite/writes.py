"""The SQLite store's writes, each run inside the writer's transaction (jobq.store.sqlite.conn):
inserts, transitions (decided steps written as few multi-row UPDATEs), deletes, purges, log
appends and the callback outbox.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from jobq import loglimit
from jobq.model import Callback, Job, Step, StepResult
from jobq.states import State
from jobq.store import retries
from jobq.store.decide import Decided, decide_all
from jobq.store.job_sql import SELECT_JOB
from jobq.store.job_sql import SQLITE as SQL
from jobq.store.rows import (
    INSERT_COLUMNS,
    NEW_COLUMNS,
    dumps,
    encode,
    is_new,
    job_from_row,
    job_values,
    new_job_values,
)
from jobq.store.sqlite.limited import seat_keys
from jobq.store.sqlite.many import insert_rows, update_rows

INSERT_NEW_HEAD = f"INSERT INTO jobs ({', '.join(NEW_COLUMNS)})"
INSERT_JOB_HEAD = f"INSERT INTO jobs ({', '.join(INSERT_COLUMNS)})"
ADD_QUEUE = "INSERT OR IGNORE INTO queues (name, paused, updated_at) VALUES (?, 0, ?)"
AMONG = "(SELECT value FROM json_each(?))"  # a list of ids passed as one JSON parameter
RETRIED_BY_AMONG = f"SELECT id, retried_by FROM jobs WHERE id IN {AMONG}"


def insert(c: sqlite3.Connection, jobs: Sequence[Job], now: float) -> list[tuple[Job, bool]]:
    if not jobs:
        return []
    c.executemany(ADD_QUEUE, [(queue, now) for queue in {j.queue for j in jobs}])
    taken = _retries_taken(c, jobs)
    out: list[tuple[Job, bool]] = []
    plain: list[Job] = []  # consecutive jobs with no unique key: one multi-row INSERT
    for job in jobs:
        if job.unique_key is None and job.id not in taken:
            plain.append(job)
            continue
        out += _insert_plain(c, plain)
        plain = []
        out.append((taken[job.id], False) if job.id in taken else _insert_unique(c, job))
    out += _insert_plain(c, plain)
    links = [(j.id, j.retry_of) for j, created in out if created and j.retry_of is not None]
    update_rows(c, "jobs", ("retried_by",), ("id",), links)
    if any(j.concurrency_key is not None for j in jobs):
        seat_keys(c, [j for j, created in out if created])
    return out


def _retries_taken(c: sqlite3.Connection, jobs: Sequence[Job]) -> dict[str, Job]:
    """The retries among `jobs` whose source has a retry already (jobq.store.retries)."""
    sources = retries.sources_of(jobs)
    if not sources:
        return {}
    links = dict(c.execute(RETRIED_BY_AMONG, (dumps(sources),)).fetchall())
    named = [v for v in links.values() if v is not None]
    existing = _get_many(c, named) if named else {}
    return retries.taken(jobs, links, existing)


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


def _insert_unique(c: sqlite3.Connection, job: Job) -> tuple[Job, bool]:
    existing = c.execute(SQL.live_by_unique_key, (job.unique_key,)).fetchone()
    if existing is not None:
        return job_from_row(existing), False
    insert_rows(c, INSERT_JOB_HEAD, len(INSERT_COLUMNS), [job_values(job)])
    (job.seq,) = c.execute("SELECT last_insert_rowid()").fetchone()
    return job, True


def transition(c: sqlite3.Connection, steps: Sequence[Step], now: float) -> list[StepResult]:
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
        insert(c, self.spawns, self.now)
        self.updates.clear()
        self.attempts.clear()
        self.callbacks.clear()
        self.spawns.clear()


def fail_unprocessable(
    c: sqlite3.Connection, job_id: str, error: dict[str, Any], now: float, purge_at: float | None
) -> bool:
    text = dumps(error)
    moved = c.execute(SQL.fail_unprocessable, (text, now, purge_at, job_id))
    c.execute(SQL.end_attempt, (now, text, job_id))
    return moved.rowcount > 0


def delete(
    c: sqlite3.Connection, ids: Sequence[str], allowed: frozenset[State]
) -> list[State | None]:
    """Delete each job whose state is in `allowed`; per id its state (None: no such job)."""
    found = c.execute(f"SELECT id, state FROM jobs WHERE id IN {AMONG}", (dumps(list(ids)),))
    states = {i: State(s) for i, s in found.fetchall()}
    _delete_rows(c, [i for i, s in states.items() if s in allowed])
    return [states.get(i) for i in ids]


def _delete_rows(c: sqlite3.Connection, ids: Sequence[str]) -> None:
    """The jobs, their attempts and their logs: one statement each, whatever the count."""
    if not ids:
        return
    among = (dumps(list(ids)),)
    c.execute(f"DELETE FROM jobs WHERE id IN {AMONG}", among)
    c.execute(f"DELETE FROM attempts WHERE job_id IN {AMONG}", among)
    c.execute(f"DELETE FROM logs WHERE job_id IN {AMONG}", among)


def purge(c: sqlite3.Connection, now: float, limit: int) -> int:
    ids = [r[0] for r in c.execute(SQL.due_purge, (now, limit))]
    _delete_rows(c, ids)
    return len(ids)


def append_logs(
    c: sqlite3.Connection,
    job_id: str,
    entries: Sequence[tuple[float, str, str]],
    attempt: int,
    max_bytes: int | None,
) -> int:
    (last,) = c.execute(SQL.last_log_seq, (job_id,)).fetchone()
    row = c.execute(SQL.log_bytes, (job_id,)).fetchone()
    kept, size = loglimit.admit(entries, row[0] if row else 0, max_bytes)
    if not kept:
        return int(last)
    rows = [(job_id, last + i, attempt, t, s, x) for i, (t, s, x) in enumerate(kept, 1)]
    c.executemany(
        "INSERT INTO logs (job_id, seq, attempt, time, stream, text) VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    c.execute(SQL.set_log_bytes, (size, job_id))
    return int(last) + len(rows)


def claim_callbacks(c: sqlite3.Connection, now: float, limit: int, lease: float) -> list[Callback]:
    rows = c.execute(
        "SELECT id, job_id, url, attempts, next_at FROM callbacks "
        "WHERE next_at <= ? ORDER BY next_at LIMIT ?",
        (now, limit),
    ).fetchall()
    c.executemany(
        "UPDATE callbacks SET next_at = ? WHERE id = ?", [(now + lease, r[0]) for r in rows]
    )
    return [Callback(*r) for r in rows]


def callback_failed(
    c: sqlite3.Connection, callback_id: int, next_at: float | None, error: str
) -> None:
    if next_at is None:
        c.execute(SQL.delete_callback, (callback_id,))
    else:
        c.execute(SQL.retry_callback, (next_at, error, callback_id))
