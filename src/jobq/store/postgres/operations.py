"""Operations in PostgreSQL (jobq.store.operations): a batch is one transaction on the job
store's pool, which locks the operation's row first, so two nodes never run one batch."""

from __future__ import annotations

from typing import Any

from jobq.model import Job, Operation, Work, Worked
from jobq.states import State
from jobq.store.operations import (
    OP_COLUMNS,
    POSTGRES_OPS,
    OperationStore,
    Settle,
    op_from_row,
    op_values,
    progress_values,
)
from jobq.store.postgres import writes
from jobq.store.postgres.conn import Conn
from jobq.store.postgres.sql import SELECT_JOB
from jobq.store.postgres.store import PostgresStore

SQL = POSTGRES_OPS
# A lane's page, bounded by row comparisons only the lane's index can serve: written as
# `queue = $1 AND state = $2 AND seq > $3`, a generic plan (asyncpg prepares statements; after
# five runs PostgreSQL may keep one plan for every queue) walked the primary key from the
# cursor, filtering, and a small queue's page read the rows of every other queue after it
# (measured: 72 ms for a page of a 300-job queue among 300,000). The ORDER BY is the index's,
# which the primary key cannot give, so the plan is a range of jobs_queue_state (jobs_state)
# whatever the statistics (checked with force_generic_plan, analyzed and not).
LANE_OF_QUEUE = f"""{SELECT_JOB}
WHERE (queue, state, seq) > ($1, $2, $3) AND (queue, state, seq) <= ($1, $2, $4)
ORDER BY queue, state, seq LIMIT $5"""
LANE_OF_STATE = f"""{SELECT_JOB}
WHERE (state, seq) > ($1, $2) AND (state, seq) <= ($1, $3)
ORDER BY state, seq LIMIT $4"""
# the due operations, leased to $1 until $2, none another node is taking ($3 now, $4 how many)
TAKE = f"""
UPDATE operations SET lease_token = $1, lease_until = $2
WHERE id IN (SELECT id FROM operations WHERE state = 'running' AND lease_until <= $3
             ORDER BY lease_until LIMIT $4 FOR UPDATE SKIP LOCKED)
RETURNING {", ".join(OP_COLUMNS)}"""


class PostgresOperations(OperationStore):
    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        self._db = store.db

    async def _read(self, sql: str, *params: Any) -> list[Operation]:
        rows = await self._db.read(lambda c: c.fetch(sql, *params))
        return [op_from_row(tuple(r)) for r in rows]

    async def create(self, op: Operation) -> None:
        await self._db.run(lambda c: c.execute(SQL.insert, *op_values(op)))

    async def get(self, op_id: str) -> Operation | None:
        found = await self._read(SQL.get, op_id)
        return found[0] if found else None

    async def operations(self, owner: str | None, limit: int) -> list[Operation]:
        if owner is None:
            return await self._read(SQL.of_everyone, limit)
        return await self._read(SQL.of_owner, owner, limit)

    async def take(
        self, now: float, lease: float, token: str, limit: int
    ) -> tuple[list[Operation], float | None]:
        async def op(c: Conn) -> tuple[list[Operation], float | None]:
            rows = await c.fetch(TAKE, token, now + lease, now, limit) if limit > 0 else []
            return [op_from_row(tuple(r)) for r in rows], await c.fetchval(SQL.next_lease)

        return await self._db.run(op)

    async def lane(
        self, queue: str | None, state: State, after_seq: int, upto_seq: int, limit: int
    ) -> list[Job]:
        if queue is None:
            return await self._store._select_jobs(
                LANE_OF_STATE, str(state), after_seq, upto_seq, limit
            )
        return await self._store._select_jobs(
            LANE_OF_QUEUE, queue, str(state), after_seq, upto_seq, limit
        )

    async def advance(
        self, op: Operation, work: Work, settle: Settle, now: float
    ) -> tuple[Worked, Operation] | None:
        return await self._db.run(lambda c: _advance(c, op, work, settle, now))

    async def stop(self, op_id: str, state: str, message: str, now: float) -> bool:
        status = await self._db.run(lambda c: c.execute(SQL.stop, state, message, now, op_id))
        return bool(status != "UPDATE 0")

    async def drop_queue(self, name: str) -> bool:
        return await self._db.run(lambda c: _drop_queue(c, name))

    async def forget(self, finished_before: float) -> int:
        status = await self._db.run(lambda c: c.execute(SQL.forget, finished_before))
        return int(status.rsplit(" ", 1)[1])  # "DELETE n"


async def _advance(
    c: Conn, op: Operation, work: Work, settle: Settle, now: float
) -> tuple[Worked, Operation] | None:
    token = await c.fetchval(f"{SQL.held} FOR UPDATE", op.id)
    if token is None or token != op.lease_token:
        return None
    worked = Worked()
    if work.inserts:
        worked.inserted = await writes.insert(c, work.inserts, now)
    if work.steps:
        worked.moved = await writes.transition(c, work.steps, now)
    if work.deletes:
        worked.deleted = await writes.delete(c, work.deletes, work.deletable)
    after = settle(worked)
    await c.execute(SQL.progress, *progress_values(after), op.id)
    return worked, after


async def _drop_queue(c: Conn, name: str) -> bool:
    await c.execute(SQL.drop_queue, name)
    return await c.fetchval(SQL.queue_has_jobs, name) is None
