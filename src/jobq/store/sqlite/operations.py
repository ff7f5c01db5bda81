"""Operations in SQLite (jobq.store.operations): on the job store's writer and readers, so
a batch is one operation of the writer's group commit, one transaction with its progress."""

from __future__ import annotations

import sqlite3
from typing import Any

from jobq.model import Job, Operation, Work, Worked
from jobq.states import State
from jobq.store.operations import (
    SQLITE_OPS,
    OperationStore,
    Settle,
    op_from_row,
    op_values,
    progress_values,
)
from jobq.store.sqlite import writes
from jobq.store.sqlite.store import SQLiteStore

SQL = SQLITE_OPS


class SQLiteOperations(OperationStore):
    def __init__(self, store: SQLiteStore) -> None:
        self._store = store

    async def _read(self, sql: str, params: tuple[Any, ...]) -> list[Operation]:
        rows = await self._store._readers.run(lambda c: c.execute(sql, params).fetchall())
        return [op_from_row(r) for r in rows]

    async def create(self, op: Operation) -> None:
        await self._store._write(lambda c: c.execute(SQL.insert, op_values(op)))

    async def get(self, op_id: str) -> Operation | None:
        found = await self._read(SQL.get, (op_id,))
        return found[0] if found else None

    async def operations(self, owner: str | None, limit: int) -> list[Operation]:
        if owner is None:
            return await self._read(SQL.of_everyone, (limit,))
        return await self._read(SQL.of_owner, (owner, limit))

    async def take(
        self, now: float, lease: float, token: str, limit: int
    ) -> tuple[list[Operation], float | None]:
        # a look on a reader first: the duties ask every round, and mostly nothing is due
        due = await self._store._readers.run(lambda c: c.execute(SQL.due, (now, 1)).fetchall())
        if not due or limit < 1:
            row = await self._store._readers.run(lambda c: c.execute(SQL.next_lease).fetchone())
            return [], row[0]
        return await self._store._write(lambda c: _take(c, now, lease, token, limit))  # type: ignore[no-any-return]

    async def lane(
        self, queue: str | None, state: State, after_seq: int, upto_seq: int, limit: int
    ) -> list[Job]:
        params: tuple[Any, ...] = (str(state), after_seq, upto_seq, limit)
        if queue is None:
            return await self._store._select_jobs(SQL.lane_of_state, params)
        return await self._store._select_jobs(SQL.lane_of_queue, (queue, *params))

    async def advance(
        self, op: Operation, work: Work, settle: Settle, now: float
    ) -> tuple[Worked, Operation] | None:
        return await self._store._write(lambda c: _advance(c, op, work, settle, now))  # type: ignore[no-any-return]

    async def stop(self, op_id: str, state: str, message: str, now: float) -> bool:
        moved = await self._store._write(
            lambda c: c.execute(SQL.stop, (state, message, now, op_id)).rowcount
        )
        return bool(moved)

    async def drop_queue(self, name: str) -> bool:
        return await self._store._write(lambda c: _drop_queue(c, name))  # type: ignore[no-any-return]

    async def forget(self, finished_before: float) -> int:
        return await self._store._write(  # type: ignore[no-any-return]
            lambda c: c.execute(SQL.forget, (finished_before,)).rowcount
        )


def _take(
    c: sqlite3.Connection, now: float, lease: float, token: str, limit: int
) -> tuple[list[Operation], float | None]:
    ids = [r[0] for r in c.execute(SQL.due, (now, limit)).fetchall()] if limit > 0 else []
    c.executemany(
        "UPDATE operations SET lease_token = ?, lease_until = ? WHERE id = ?",
        [(token, now + lease, i) for i in ids],
    )
    taken = [op_from_row(c.execute(SQL.get, (i,)).fetchone()) for i in ids]
    return taken, c.execute(SQL.next_lease).fetchone()[0]


def _advance(
    c: sqlite3.Connection, op: Operation, work: Work, settle: Settle, now: float
) -> tuple[Worked, Operation] | None:
    row = c.execute(SQL.held, (op.id,)).fetchone()
    if row is None or row[0] != op.lease_token:
        return None
    worked = Worked()
    if work.inserts:
        worked.inserted = writes.insert(c, work.inserts, now)
    if work.steps:
        worked.moved = writes.transition(c, work.steps, now)
    if work.deletes:
        worked.deleted = writes.delete(c, work.deletes, work.deletable)
    after = settle(worked)
    c.execute(SQL.progress, (*progress_values(after), op.id))
    return worked, after


def _drop_queue(c: sqlite3.Connection, name: str) -> bool:
    c.execute(SQL.drop_queue, (name,))
    return c.execute(SQL.queue_has_jobs, (name,)).fetchone() is None
