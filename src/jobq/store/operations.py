"""Where operations are kept, and the transaction each batch of one runs in: the
`OperationStore`, beside the job store's `Store` on the same database and connections.

An operation (`jobq.model.Operation`) is a row; the engine's runner (jobq.engine.operations)
reads a page of jobs, decides a batch of work and asks `advance` to apply it. `advance`
applies the work, and writes the operation's new cursor and counts (`settle`, engine code,
decides them from what the work did) in ONE transaction, and only while the runner still
holds the operation's lease (`lease_token`, compared in the transaction): a batch and the
progress that records it are durable together, so a restart resumes after the last batch,
neither losing nor repeating one, and a runner whose lease another took writes nothing.

    operation_store_for(store)   the operation store on an open job store's connections
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import orjson

from jobq.model import Job, Operation, Work, Worked
from jobq.states import State
from jobq.store.base import Store
from jobq.store.job_sql import SELECT_JOB, numbered

Settle = Callable[[Worked], Operation]  # what the operation is after the batch (engine code)

OP_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Operation))
_JSON = frozenset({"selection", "queues", "errors"})
_JSON_AT = tuple(i for i, c in enumerate(OP_COLUMNS) if c in _JSON)
SELECT_OP = f"SELECT {', '.join(OP_COLUMNS)} FROM operations"
# what a batch changes: the cursor, the counts, the state and the lease (all but what the
# operation was asked)
_FIXED = frozenset({"id", "action", "selection", "queues", "owner", "upto_seq", "reason"})
PROGRESS = tuple(c for c in OP_COLUMNS if c not in _FIXED and c != "created_at")


def op_values(op: Operation) -> list[Any]:
    """The operation's row, in OP_COLUMNS order (JSON columns as text)."""
    return [_encode(c, getattr(op, c)) for c in OP_COLUMNS]


def progress_values(op: Operation) -> list[Any]:
    return [_encode(c, getattr(op, c)) for c in PROGRESS]


def _encode(column: str, value: Any) -> Any:
    return orjson.dumps(value).decode() if column in _JSON else value


def op_from_row(row: Sequence[Any]) -> Operation:
    values = list(row)
    for i in _JSON_AT:
        values[i] = orjson.loads(values[i]) if values[i] is not None else None
    return Operation(*values)


@dataclass(frozen=True)
class OpSql:
    """The statements both databases share (SQLite's placeholders; `for_postgres` numbers
    them)."""

    insert: str = (
        f"INSERT INTO operations ({', '.join(OP_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(OP_COLUMNS))})"
    )
    get: str = f"{SELECT_OP} WHERE id = ?"
    of_owner: str = f"{SELECT_OP} WHERE owner = ? ORDER BY created_at DESC LIMIT ?"
    of_everyone: str = f"{SELECT_OP} ORDER BY created_at DESC LIMIT ?"
    # the running operations whose lease has passed (their runner stopped), oldest first
    due: str = (
        "SELECT id FROM operations WHERE state = 'running' AND lease_until <= ? "
        "ORDER BY lease_until LIMIT ?"
    )
    held: str = "SELECT lease_token FROM operations WHERE id = ? AND state = 'running'"
    next_lease: str = "SELECT min(lease_until) FROM operations WHERE state = 'running'"
    progress: str = f"UPDATE operations SET {', '.join(f'{c} = ?' for c in PROGRESS)} WHERE id = ?"
    # ?1 the state, ?2 the message, ?3 now, ?4 the id
    stop: str = (
        "UPDATE operations SET state = ?1, message = ?2, updated_at = ?3, finished_at = ?3, "
        "lease_token = NULL, lease_until = NULL WHERE id = ?4 AND state = 'running'"
    )
    forget: str = "DELETE FROM operations WHERE state <> 'running' AND finished_at < ?"
    # a page of a lane: the jobs of one queue and state (jobs_queue_state), or of one state in
    # every queue (jobs_state), in seq order, after a seq and up to another (SQLite's; the
    # PostgreSQL store words them so that its generic plans keep to those indexes)
    lane_of_queue: str = (
        f"{SELECT_JOB} WHERE queue = ? AND state = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?"
    )
    lane_of_state: str = (
        f"{SELECT_JOB} WHERE state = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?"
    )
    # a queue without jobs: its row goes (?1 the name); whether none of its jobs is left
    drop_queue: str = (
        "DELETE FROM queues WHERE name = ?1 AND NOT EXISTS (SELECT 1 FROM jobs WHERE queue = ?1)"
    )
    queue_has_jobs: str = "SELECT 1 FROM jobs WHERE queue = ? LIMIT 1"

    def for_postgres(self) -> OpSql:
        return OpSql(**{f.name: numbered(getattr(self, f.name)) for f in fields(self)})


SQLITE_OPS = OpSql()
POSTGRES_OPS = SQLITE_OPS.for_postgres()


class OperationStore(ABC):
    """Operations, and the batches they apply to the job store's jobs."""

    @abstractmethod
    async def create(self, op: Operation) -> None: ...

    @abstractmethod
    async def get(self, op_id: str) -> Operation | None: ...

    @abstractmethod
    async def operations(self, owner: str | None, limit: int) -> list[Operation]:
        """The newest `limit` operations of `owner` (None: of everyone)."""

    @abstractmethod
    async def take(
        self, now: float, lease: float, token: str, limit: int
    ) -> tuple[list[Operation], float | None]:
        """Up to `limit` running operations whose lease has passed, leased to `token` until
        `now + lease` (on PostgreSQL, no two nodes take one); and the earliest lease of a
        running operation after that (None: none runs)."""

    @abstractmethod
    async def lane(
        self, queue: str | None, state: State, after_seq: int, upto_seq: int, limit: int
    ) -> list[Job]:
        """Up to `limit` jobs of `queue` (None: of every queue) in `state` whose seq is above
        `after_seq` and at most `upto_seq`, in seq order, read through the index that leads
        with the queue and the state (or the state): a page reads no other jobs."""

    @abstractmethod
    async def advance(
        self, op: Operation, work: Work, settle: Settle, now: float
    ) -> tuple[Worked, Operation] | None:
        """In one transaction: if `op` is still running and leased to `op.lease_token`,
        apply `work` (inserts as `Store.insert`, steps as `Store.transition`, deletes as
        `Store.delete`) and write `settle(worked)` as the operation's progress; what the work
        did and the operation after it. None, and nothing written, if the lease is gone."""

    @abstractmethod
    async def stop(self, op_id: str, state: str, message: str, now: float) -> bool:
        """End a running operation (`state` cancelled or failed); whether it was running."""

    @abstractmethod
    async def drop_queue(self, name: str) -> bool:
        """Forget queue `name` (its row: name, paused flag) if it holds no job; whether it
        holds none (True also when it was unknown)."""

    @abstractmethod
    async def forget(self, finished_before: float) -> int:
        """Delete the operations that finished before `finished_before`; how many."""


def operation_store_for(store: Store) -> OperationStore:
    """The operation store in `store`'s database, on `store`'s connections (SQLite's one
    writer: a batch joins its group commits)."""
    from jobq.store.sqlite import SQLiteStore

    if isinstance(store, SQLiteStore):
        from jobq.store.sqlite.operations import SQLiteOperations

        return SQLiteOperations(store)
    from jobq.store.postgres import PostgresStore  # type: ignore[import-not-found,unused-ignore]

    if isinstance(store, PostgresStore):
        from jobq.store.postgres.operations import PostgresOperations

        return PostgresOperations(store)
    raise TypeError(f"no operation store for {type(store).__name__}")
