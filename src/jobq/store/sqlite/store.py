"""The SQLite store: jobq's embedded default, one server process per database file.

The Store's methods run each operation on the writer (jobq.store.sqlite.conn's group commit)
or on a reader: the operations are in `writes` and `reads`, claims in `claim` and
`handover`, the statements both stores share in jobq.store.job_sql.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

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
from jobq.store.handover import can_hand_over
from jobq.store.job_sql import SQLITE as SQL
from jobq.store.rows import attempt_from_row, job_from_row, queue_settings
from jobq.store.seen import SeenWorkers, recording
from jobq.store.sqlite import claim as sqlite_claim
from jobq.store.sqlite import handover as sqlite_handover
from jobq.store.sqlite import reads, writes
from jobq.store.sqlite.conn import (
    DEFAULT_CACHE_MIB,
    GroupCommitter,
    Readers,
    adapt_none,
    cache_split,
    connect,
    migrate,
)

NARROWINGS = 3  # rounds of a wide claim (narrow on a reader, claim on the writer)


class SQLiteStore(Store):
    def __init__(self, path: str, cache_mib: int = DEFAULT_CACHE_MIB) -> None:
        """`cache_mib`: the page-cache budget of all this store's connections together."""
        self.path = path
        self._writer_kib, reader_kib = cache_split(cache_mib)
        self._writer = GroupCommitter(path, self._writer_kib)
        self._readers = Readers(path, reader_kib)
        self._seen = SeenWorkers()

    async def open(self) -> None:
        adapt_none()
        self._writer.start()

    async def close(self) -> None:
        self._writer.stop()
        self._readers.close()

    async def ping(self) -> None:
        await self._readers.run(lambda c: c.execute(SQL.ping).fetchone())

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
        return await self._write(lambda c: writes.insert(c, jobs, now))  # type: ignore[no-any-return]

    async def get(self, job_id: str) -> Job | None:
        return await self._readers.run(lambda c: reads.get(c, job_id))

    async def list_jobs(self, query: JobQuery) -> list[Job]:
        return await self._select_jobs(*reads.list_sql(query))

    async def count_jobs(self, query: JobQuery, cap: int) -> int:
        sql, params = reads.count_sql(query, cap)
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
            if spec.queues is not None:
                return await self._claim_listed(spec, lease_key, now, touches[0])
            claimed: list[Job]
            claimed, short = await self._write(
                lambda c: sqlite_claim.claim_every_queue(c, spec, lease_key, now, touches[0])
            )
            if short:
                claimed += await self._claim_beyond(spec, len(claimed), lease_key, now)
            return claimed

        return await recording(self._seen, [spec], now, write)

    async def _claim_listed(self, spec: ClaimSpec, key: str, now: float, touch: bool) -> list[Job]:
        """Claim up to spec.limit jobs of spec.queues."""
        claimed: list[Job] = []
        want = spec
        for _ in range(NARROWINGS):  # another claim may take the chosen jobs first
            among = await self._narrowed(want)
            claimed += await self._claim(want, key, now, touch, among)
            if not among or len(claimed) >= spec.limit:
                break
            touch, want = False, replace(spec, limit=spec.limit - len(claimed))
        return claimed

    async def _claim_beyond(self, spec: ClaimSpec, claimed: int, key: str, now: float) -> list[Job]:
        """The rest of a claim of every queue that its window left short, having `claimed`
        jobs: the listed claim of every queue by name, the names and the narrowing read on a
        reader (sqlite_claim.WINDOW)."""
        listed = replace(spec, queues=await self.queue_names(), limit=spec.limit - claimed)
        return await self._claim_listed(listed, key, now, touch=False)

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
        return await self._write(lambda c: writes.transition(c, steps, now))  # type: ignore[no-any-return]

    async def transition_and_claim(
        self, steps: Sequence[Step], spec: ClaimSpec, lease_key: str, now: float
    ) -> tuple[list[StepResult], list[Job]]:
        async def write(touches: list[bool]) -> tuple[list[StepResult], list[Job]]:
            among = await self._narrowed(spec)

            def both(c: sqlite3.Connection) -> tuple[list[StepResult], list[Job], bool]:
                results = writes.transition(c, steps, now) if steps else []
                claimed = sqlite_claim.claim(c, spec, lease_key, now, touches[0], among)
                short = spec.queues is None and sqlite_claim.cut_short(c, spec, len(claimed))
                return results, claimed, short

            results, claimed, short = await self._write(both)
            if short:
                claimed += await self._claim_beyond(spec, len(claimed), lease_key, now)
            return results, claimed

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
                return writes.insert(c, jobs, now), [
                    _claim_new_work(c, spec, key, now, touch, jobs)
                    for (spec, key), touch in zip(claims, touches, strict=True)
                ]

            return await self._write(both)  # type: ignore[no-any-return]

        return await recording(self._seen, [spec for spec, _ in claims], now, write)

    async def delete(self, ids: Sequence[str], allowed: frozenset[State]) -> list[State | None]:
        return await self._write(lambda c: writes.delete(c, ids, allowed))  # type: ignore[no-any-return]

    # background duties
    async def due_scheduled(self, now: float, limit: int) -> list[str]:
        return await self._ids(SQL.due_scheduled, (now, limit))

    async def overdue_running(self, now: float, limit: int) -> list[str]:
        return await self._ids(SQL.overdue, (now, limit))

    async def _ids(self, sql: str, params: tuple[Any, ...]) -> list[str]:
        rows = await self._readers.run(lambda c: c.execute(sql, params).fetchall())
        return [r[0] for r in rows]

    async def purge(self, now: float, limit: int) -> int:
        return await self._write(lambda c: writes.purge(c, now, limit))  # type: ignore[no-any-return]

    async def fail_unprocessable(
        self, job_id: str, error: dict[str, Any], now: float, purge_at: float | None
    ) -> bool:
        return await self._write(  # type: ignore[no-any-return]
            lambda c: writes.fail_unprocessable(c, job_id, error, now, purge_at)
        )

    async def next_due(self) -> float | None:
        return await self._readers.run(reads.next_due)

    # attempts and logs
    async def attempts(self, job_id: str) -> list[Attempt]:
        rows = await self._readers.run(lambda c: c.execute(SQL.attempts, (job_id,)).fetchall())
        return [attempt_from_row(r) for r in rows]

    async def append_logs(
        self,
        job_id: str,
        entries: Sequence[tuple[float, str, str]],
        attempt: int,
        max_bytes: int | None = None,
    ) -> int:
        return await self._write(  # type: ignore[no-any-return]
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
        return await self._readers.run(
            lambda c: reads.logs(c, job_id, after, tail, limit, max_chars)
        )

    # queues and workers
    async def queue_stats(self) -> list[QueueStats]:
        return await self._readers.run(reads.queue_overview)

    async def finished_counts(
        self,
        since: float,
        bucket_seconds: float,
        queues: Sequence[str] | None = None,
        top: int | None = None,
    ) -> list[FinishedCount]:
        return await self._readers.run(
            lambda c: reads.finished_counts(c, since, bucket_seconds, queues, top)
        )

    async def queue_names(self) -> list[str]:
        rows = await self._readers.run(lambda c: c.execute(SQL.queue_names).fetchall())
        return [r[0] for r in rows]

    async def configure_queue(self, queue: str, change: QueueChange, now: float) -> None:
        writes = limits.setting_writes(SQL, queue, change, now)
        await self._write(lambda c: [c.execute(sql, params) for sql, params in writes])

    async def queue_settings(self, queues: Sequence[str] | None = None) -> dict[str, QueueSettings]:
        sql, params = reads.SETTINGS_AMONG, [reads.json_list(queues)]
        if queues is None:
            sql, params = SQL.queue_settings, []
        rows = await self._readers.run(lambda c: c.execute(sql, params).fetchall())
        return queue_settings(rows)

    async def touch_worker(self, worker: Worker, queues: Sequence[str] | None, now: float) -> None:
        await self._write(lambda c: sqlite_claim.touch_worker(c, worker, queues, now))

    async def workers(
        self, held: bool = True, queues: Sequence[str] | None = None
    ) -> list[WorkerSeen]:
        return await self._readers.run(lambda c: reads.workers(c, held, queues))

    async def forget_workers(self, seen_before: float) -> int:
        sql = SQL.forget_workers
        return await self._write(lambda c: c.execute(sql, (seen_before,)).rowcount)  # type: ignore[no-any-return]

    # problems
    async def type_activity(
        self, since: float, queues: Sequence[str] | None = None
    ) -> list[TypeActivity]:
        return await self._readers.run(lambda c: reads.type_activity(c, since, queues))

    async def queued_ids(self, queue: str, type: str | None, limit: int) -> list[str]:
        sql, params = SQL.queued_ids, [queue, limit]
        if type is not None:
            sql, params = SQL.queued_ids_of_type, [queue, type, limit]
        rows = await self._readers.run(lambda c: c.execute(sql, params).fetchall())
        return [r[0] for r in rows]

    async def failing_jobs(
        self, min_attempt: int, limit: int, queues: Sequence[str] | None = None
    ) -> list[Job]:
        if queues is None:
            return await self._select_jobs(SQL.failing_jobs, (min_attempt, limit))
        among = reads.json_list(queues)
        return await self._select_jobs(reads.FAILING_AMONG, (among, min_attempt, limit))

    async def deadlines_before(
        self, at: float, limit: int, queues: Sequence[str] | None = None
    ) -> list[Job]:
        if queues is None:
            return await self._select_jobs(SQL.deadlines_before, (at, limit))
        return await self._select_jobs(reads.DEADLINES_AMONG, (reads.json_list(queues), at, limit))

    # callback outbox
    async def due_callbacks(self, now: float, limit: int, lease: float = 60.0) -> list[Callback]:
        return await self._write(lambda c: writes.claim_callbacks(c, now, limit, lease))  # type: ignore[no-any-return]

    async def callback_sent(self, callback_id: int) -> None:
        await self._write(lambda c: c.execute(SQL.delete_callback, (callback_id,)))

    async def callback_failed(self, callback_id: int, next_at: float | None, error: str) -> None:
        await self._write(lambda c: writes.callback_failed(c, callback_id, next_at, error))


def _hand_over(
    c: sqlite3.Connection, job: Job, spec: ClaimSpec, key: str, now: float, touch: bool
) -> Job | None:
    """`job` inserted leased to the claim (sqlite_handover), or None and nothing written."""
    c.execute(
        "INSERT OR IGNORE INTO queues (name, paused, updated_at) VALUES (?, 0, ?)", (job.queue, now)
    )
    handed = sqlite_handover.hand_over(c, job, spec, key, now)
    if handed is not None and touch:
        sqlite_claim.touch_worker(c, spec.worker, spec.queues, now)
    return handed


def _claim_new_work(
    c: sqlite3.Connection, spec: ClaimSpec, key: str, now: float, touch: bool, jobs: Sequence[Job]
) -> list[Job]:
    """The claim of a parked claim handed the new `jobs`. A claim of every queue that its
    window leaves short claims the rest among the queues of that work (as a wide claim does:
    it waited because its other queues had nothing)."""
    if spec.queues is not None:
        return sqlite_claim.claim(c, spec, key, now, touch, _new_work(spec, jobs))
    claimed, short = sqlite_claim.claim_every_queue(c, spec, key, now, touch)
    if not short:
        return claimed
    rest = replace(spec, limit=spec.limit - len(claimed))
    queues = list(dict.fromkeys(job.queue for job in jobs))
    return claimed + sqlite_claim.claim(c, rest, key, now, False, queues)


def _new_work(spec: ClaimSpec, jobs: Sequence[Job]) -> list[str] | None:
    """A wide claim handed new work looks only at the queues of that work (it waited because
    its other queues had nothing); other claims (every queue's too) at all their queues
    (None)."""
    if spec.queues is None or not sqlite_claim.is_wide(spec):
        return None
    asked = set(spec.queues)
    return [q for q in dict.fromkeys(job.queue for job in jobs) if q in asked]
