"""The PostgreSQL store: many jobq servers on one database.

The same semantics as the SQLite store (the integration suite runs against both); what differs
is how concurrency is made safe when several processes write at once:

- transition() locks the rows of all its steps up front, in id order (so two batches never
  deadlock), then applies each step as in SQLite: token check, decide, compare-and-set UPDATE.
- claim() takes rows with FOR UPDATE SKIP LOCKED on the partial index jobs_claim, so claimers
  never wait on each other and never take the same job.
- background duties on many nodes are safe because every move is a compare-and-set; callback
  rows are leased (next_at moved ahead) so two nodes never deliver the same callback.
- a worker's acknowledge-and-claim requests that arrive together run as one transaction
  (jobq.store.combine): at most two at once per server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from jobq.errors import StoreUnavailable
from jobq.model import (
    Attempt,
    Callback,
    ClaimSpec,
    FinishedCount,
    Job,
    JobQuery,
    LogEntry,
    QueueChange,
    QueueSettings,
    QueueStats,
    Step,
    StepResult,
    TypeActivity,
    Worker,
    WorkerSeen,
)
from jobq.states import State
from jobq.store import limits
from jobq.store.base import Store
from jobq.store.combine import Combiner, Outcome, Request, together
from jobq.store.handover import can_hand_over
from jobq.store.job_sql import POSTGRES as SQL
from jobq.store.postgres import reads, writes
from jobq.store.postgres.conn import LATEST, Conn, Database, migrate, schema_version
from jobq.store.postgres.handover import hand_over
from jobq.store.postgres.limited import claim_limited
from jobq.store.postgres.sql import (
    CLAIM,
    CLAIM_PICKED,
    LOCK_NAMED,
    NEXT_DUE,
    OPEN_ATTEMPTS,
    TOUCH_WORKER,
    count_sql,
    list_sql,
)
from jobq.store.postgres.vacuum import advice, vacuum_gaps
from jobq.store.rows import (
    attempt_from_row,
    dumps,
    job_from_row,
    queue_settings,
    worker_dict,
    worker_values,
)
from jobq.store.seen import SeenWorkers, recording

log = logging.getLogger("jobq.store")
ROWS_PER_TURN = 500  # rows made into jobs between two turns of the event loop


class PostgresStore(Store):
    def __init__(self, url: str, *, migrate: bool = True, pool_size: int | None = None) -> None:
        self.url = url
        self.auto_migrate = migrate
        conn_url, size = split_pool_size(url)
        self.db = Database(conn_url, min_size=1, max_size=pool_size or size)
        self._seen = SeenWorkers()
        self._combiner = Combiner(self._alone, self._together)

    async def open(self) -> None:
        await self.db.open()
        try:
            if self.auto_migrate:
                await self.db.read(migrate)
            else:
                await self._check_schema()
            gaps = await self.db.read(vacuum_gaps)
        except BaseException:
            await self.db.close()
            raise
        if gaps:
            log.warning(advice(gaps))

    async def _check_schema(self) -> None:
        version = await self.db.read(schema_version)
        if version < LATEST:
            raise StoreUnavailable(
                f"the database schema is at version {version}, this jobq needs {LATEST}: "
                "run `jobq db migrate --db URL`"
            )

    async def close(self) -> None:
        await self.db.close()

    async def ping(self) -> None:
        await self.db.read(lambda c: c.fetchval(SQL.ping))

    async def migrate(self, upto: int | None = None) -> list[int]:
        return await self.db.read(lambda c: migrate(c, upto))

    def make_notifier(self) -> Any:
        from jobq.store.postgres.notify import PostgresNotifier

        return PostgresNotifier(self.db)

    # jobs
    async def insert(self, jobs: Sequence[Job], now: float) -> list[tuple[Job, bool]]:
        return await self.db.run(lambda c: writes.insert(c, jobs, now))

    async def get(self, job_id: str) -> Job | None:
        row = await self.db.read(lambda c: c.fetchrow(SQL.get, job_id))
        return None if row is None else job_from_row(row)

    async def list_jobs(self, query: JobQuery) -> list[Job]:
        sql, params = list_sql(query)
        return await self._select_jobs(sql, *params)

    async def count_jobs(self, query: JobQuery, cap: int) -> int:
        sql, params = count_sql(query, cap)
        return int(await self.db.read(lambda c: c.fetchval(sql, *params)))

    async def _select_jobs(self, sql: str, *params: Any) -> list[Job]:
        rows = await self.db.read(lambda c: c.fetch(sql, *params))
        jobs: list[Job] = []
        for start in range(0, len(rows), ROWS_PER_TURN):  # other requests run in between
            if start:
                await asyncio.sleep(0)
            jobs += [job_from_row(r) for r in rows[start : start + ROWS_PER_TURN]]
        return jobs

    async def claim(self, spec: ClaimSpec, lease_key: str, now: float) -> list[Job]:
        _, jobs = await self.transition_and_claim([], spec, lease_key, now)
        return jobs

    async def transition(self, steps: Sequence[Step], now: float) -> list[StepResult]:
        if not steps:
            return []
        return await self.db.run(lambda c: writes.transition(c, steps, now))

    async def transition_and_claim(
        self, steps: Sequence[Step], spec: ClaimSpec, lease_key: str, now: float
    ) -> tuple[list[StepResult], list[Job]]:
        async def write(touches: list[bool]) -> tuple[list[StepResult], list[Job]]:
            request = Request(steps, spec, lease_key, now, touches[0])
            if spec.limited:  # its own transaction: it locks queues (jobq.store.limits)
                [outcome] = await self._together([request])
                return outcome
            return await self._combiner.run(request)

        return await recording(self._seen, [spec], now, write)

    async def _alone(self, r: Request) -> Outcome:
        """One acknowledge-and-claim in its own transaction."""
        if not r.steps and not r.touch and r.spec.ids is None:
            # one statement, its own transaction: one round trip
            claim = await self.db.once(lambda c: _claim(c, r.spec, r.lease_key, r.now, False))
            return [], claim
        [outcome] = await self._together([r])
        return outcome

    async def _together(self, requests: Sequence[Request]) -> list[Outcome]:
        """Several in one transaction (see jobq.store.combine)."""

        async def op(c: Conn) -> list[Outcome]:
            return await together(
                requests,
                lambda steps, now: writes.transition(c, steps, now),
                lambda spec, key, touch, now: _claim(c, spec, key, now, touch),
            )

        return await self.db.run(op)

    async def insert_and_claim(
        self, jobs: Sequence[Job], claims: Sequence[tuple[ClaimSpec, str]], now: float
    ) -> tuple[list[tuple[Job, bool]], list[list[Job]]]:
        async def write(touches: list[bool]) -> tuple[list[tuple[Job, bool]], list[list[Job]]]:
            if can_hand_over(jobs, claims):  # one statement
                [job], [(spec, key)], [touch] = jobs, claims, touches
                inserted, got = await self.db.once(
                    lambda c: hand_over(c, job, spec, key, now, touch)
                )
                return [(inserted, True)], [got]

            async def both(c: Conn) -> tuple[list[tuple[Job, bool]], list[list[Job]]]:
                pairs = zip(claims, touches, strict=True)
                inserted = await writes.insert(c, jobs, now)
                return inserted, [await _claim(c, spec, k, now, t) for (spec, k), t in pairs]

            return await self.db.run(both)

        return await recording(self._seen, [spec for spec, _ in claims], now, write)

    async def delete(self, ids: Sequence[str], allowed: frozenset[State]) -> list[State | None]:
        return await self.db.run(lambda c: writes.delete(c, ids, allowed))

    # background duties
    async def due_scheduled(self, now: float, limit: int) -> list[str]:
        return await self._ids(SQL.due_scheduled, now, limit)

    async def overdue_running(self, now: float, limit: int) -> list[str]:
        return await self._ids(SQL.overdue, now, limit)

    async def _ids(self, sql: str, *params: Any) -> list[str]:
        rows = await self.db.read(lambda c: c.fetch(sql, *params))
        return [r[0] for r in rows]

    async def purge(self, now: float, limit: int) -> int:
        return await self.db.run(lambda c: writes.purge(c, now, limit))

    async def fail_unprocessable(
        self, job_id: str, error: dict[str, Any], now: float, purge_at: float | None
    ) -> bool:
        return await self.db.run(
            lambda c: writes.fail_unprocessable(c, job_id, error, now, purge_at)
        )

    async def next_due(self) -> float | None:
        value = await self.db.read(lambda c: c.fetchval(NEXT_DUE))
        return None if value is None else float(value)

    # attempts and logs
    async def attempts(self, job_id: str) -> list[Attempt]:
        rows = await self.db.read(lambda c: c.fetch(SQL.attempts, job_id))
        return [attempt_from_row(tuple(r)) for r in rows]

    async def append_logs(
        self,
        job_id: str,
        entries: Sequence[tuple[float, str, str]],
        attempt: int,
        max_bytes: int | None = None,
    ) -> int:
        return await self.db.run(
            lambda c: writes.append_logs(c, job_id, entries, attempt, max_bytes)
        )

    async def logs(
        self,
        job_id: str,
        after: int = 0,
        tail: int | None = None,
        limit: int = 10_000,
        max_chars: int | None = None,
    ) -> list[LogEntry]:
        return await self.db.read(lambda c: reads.logs(c, job_id, after, tail, limit, max_chars))

    # queues and workers
    async def queue_stats(self) -> list[QueueStats]:
        return await self.db.run(reads.queue_overview)

    async def finished_counts(
        self,
        since: float,
        bucket_seconds: float,
        queues: Sequence[str] | None = None,
        top: int | None = None,
    ) -> list[FinishedCount]:
        return await self.db.read(
            lambda c: reads.finished_counts(c, since, bucket_seconds, queues, top)
        )

    async def configure_queue(self, queue: str, change: QueueChange, now: float) -> None:
        writes = limits.setting_writes(SQL, queue, change, now)

        async def write(c: Conn) -> None:
            for sql, params in writes:
                await c.execute(sql, *params)

        await self.db.run(write)

    async def queue_settings(self, queues: Sequence[str] | None = None) -> dict[str, QueueSettings]:
        if queues is None:
            rows = await self.db.read(lambda c: c.fetch(SQL.queue_settings))
        else:
            rows = await self.db.read(lambda c: c.fetch(reads.SETTINGS_AMONG, list(queues)))
        return queue_settings(rows)

    async def touch_worker(self, worker: Worker, queues: Sequence[str] | None, now: float) -> None:
        await self.db.run(lambda c: _touch_worker(c, worker, queues, now))

    async def workers(
        self, held: bool = True, queues: Sequence[str] | None = None
    ) -> list[WorkerSeen]:
        return await self.db.run(lambda c: reads.workers(c, held, queues))

    async def forget_workers(self, seen_before: float) -> int:
        status = await self.db.run(lambda c: c.execute(SQL.forget_workers, seen_before))
        return int(status.rsplit(" ", 1)[1])  # "DELETE n"

    # problems
    async def type_activity(
        self, since: float, queues: Sequence[str] | None = None
    ) -> list[TypeActivity]:
        return await self.db.read(lambda c: reads.type_activity(c, since, queues))

    async def queued_ids(self, queue: str, type: str | None, limit: int) -> list[str]:
        if type is None:
            rows = await self.db.read(lambda c: c.fetch(SQL.queued_ids, queue, limit))
        else:
            rows = await self.db.read(lambda c: c.fetch(SQL.queued_ids_of_type, queue, type, limit))
        return [r[0] for r in rows]

    async def failing_jobs(
        self, min_attempt: int, limit: int, queues: Sequence[str] | None = None
    ) -> list[Job]:
        if queues is None:
            return await self._select_jobs(SQL.failing_jobs, min_attempt, limit)
        return await self._select_jobs(reads.FAILING_AMONG, list(queues), min_attempt, limit)

    async def deadlines_before(
        self, at: float, limit: int, queues: Sequence[str] | None = None
    ) -> list[Job]:
        if queues is None:
            return await self._select_jobs(SQL.deadlines_before, at, limit)
        return await self._select_jobs(reads.DEADLINES_AMONG, list(queues), at, limit)

    # callback outbox
    async def due_callbacks(self, now: float, limit: int, lease: float = 60.0) -> list[Callback]:
        return await self.db.run(lambda c: writes.due_callbacks(c, now, limit, lease))

    async def callback_sent(self, callback_id: int) -> None:
        await self.db.run(lambda c: c.execute(SQL.delete_callback, callback_id))

    async def callback_failed(self, callback_id: int, next_at: float | None, error: str) -> None:
        await self.db.run(lambda c: writes.callback_failed(c, callback_id, next_at, error))


def split_pool_size(url: str, default: int = 10) -> tuple[str, int]:
    """The URL without jobq's own `pool_size=N` query parameter, and N (asyncpg would take
    an unknown parameter for a server setting)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    sizes = [v for k, v in query if k == "pool_size"]
    if not sizes:
        return url, default
    if not sizes[-1].isdigit() or int(sizes[-1]) < 1:
        raise ValueError(f"pool_size must be a positive integer, got {sizes[-1]!r}")
    rest = urlencode([(k, v) for k, v in query if k != "pool_size"])
    return urlunsplit(parts._replace(query=rest)), int(sizes[-1])


# --- claims, each inside one transaction ---


async def _claim(
    c: Conn, spec: ClaimSpec, lease_key: str, now: float, touch: bool = True
) -> list[Job]:
    if spec.limited:  # served first, within their room (jobq.store.limits)
        worker = dumps(worker_dict(spec.worker))
        first = await claim_limited(c, spec, lease_key, now, worker) if spec.limit > 0 else []
        rest_spec = replace(spec, limit=spec.limit - len(first), limited=())
        # the worker's row after the queues' locks: every claim takes its locks in one order
        return first + await _claim(c, rest_spec, lease_key, now, touch)
    if touch:
        await _touch_worker(c, spec.worker, spec.queues, now)
    if spec.limit < 1:
        return []
    worker = dumps(worker_dict(spec.worker))
    if spec.ids is not None:
        return await _claim_chosen(c, spec, lease_key, now, worker)
    types = list(spec.types) if spec.types else None
    queues = None if spec.queues is None else list(spec.queues)  # None: every queue
    rows = await c.fetch(
        CLAIM_PICKED, spec.lease_seconds, now, worker, queues, types, lease_key, spec.limit
    )
    return sorted((job_from_row(r) for r in rows), key=lambda j: (-j.priority, j.seq))


async def _claim_chosen(
    c: Conn, spec: ClaimSpec, lease_key: str, now: float, worker: str
) -> list[Job]:
    """A claim of named jobs (`spec.ids`), among the queued ones of unpaused queues."""
    assert spec.ids is not None and spec.queues is not None
    rows = await c.fetch(LOCK_NAMED, list(spec.queues), list(spec.ids), spec.limit)
    seqs = [r[0] for r in rows]
    if not seqs:
        return []
    tokens = [f"{lease_key}.{seq}" for seq in seqs]
    rows = await c.fetch(CLAIM, spec.lease_seconds, now, worker, seqs, tokens)
    jobs = sorted((job_from_row(r) for r in rows), key=lambda j: (-j.priority, j.seq))
    await c.execute(OPEN_ATTEMPTS, [j.id for j in jobs], [j.attempt for j in jobs], now, worker)
    return jobs


async def _touch_worker(c: Conn, worker: Worker, queues: Sequence[str] | None, now: float) -> None:
    await c.execute(TOUCH_WORKER, *worker_values(worker, queues, now))
