"""Operations in PostgreSQL (jobq.store.operations): a batch is one transaction on the job
store's pool, which locks the operation's row first, so two nodes never run one batch."""

from __future__ import annotations

from typing import Any

from jobq.model import Operation, Work, Worked
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
from jobq.store.postgres.store import PostgresStore

SQL = POSTGRES_OPS
# the due operations, leased to $1 until $2, none another node is taking ($3 now, $4 how many)
TAKE = f"""
UPDATE operations SET lease_token = $1, lease_until = $2
WHERE id IN (SELECT id FROM operations WHERE state = 'running' AND lease_until <= $3
             ORDER BY lease_until LIMIT $4 FOR UPDATE SKIP LOCKED)
RETURNING {", ".join(OP_COLUMNS)}"""


class PostgresOperations(OperationStore):
    def __init__(self, store: PostgresStore) -> None:
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
