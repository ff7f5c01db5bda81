"""Operations run in the background: bulk retry, cancel and delete by filter, a queue's purge
and deletion, over any number of jobs, in batches.

A `Runner` walks an operation's lanes (jobq.engine.selection) a page at a time: it reads up
to `batch` jobs past the operation's cursor on a reader, decides the batch's work with the
engine's rules (a retry's new job, a cancel's step, a deletion), and hands it to the
operation store, which applies it and records the new cursor and counts in one transaction
(jobq.store.operations). So no transaction holds the SQLite writer or PostgreSQL's row locks
for more than a batch, memory holds one page, and a restart resumes after the last batch
written: the work is neither lost nor done twice.

The node running an operation holds a lease on it, renewed by every batch. A runner that
stops (its process died, the store was unreachable for longer than the lease) leaves the
operation to the duties, which take over operations whose lease has passed, on any node
(`Runner.resume`). At most `slots` operations run at once in a process; the others wait,
leased to nobody, until a slot frees.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from jobq.engine import rules
from jobq.engine.selection import ACTIONS, Selection, acts_on, lanes
from jobq.engine.specs import JobSpec
from jobq.entropy import lease_key
from jobq.errors import Conflict, JobqError, NotFound, StoreUnavailable
from jobq.model import Job, Operation, Step, Work, Worked, new_ids
from jobq.states import State
from jobq.store.operations import OperationStore

if TYPE_CHECKING:
    from jobq.engine.core import Engine

log = logging.getLogger("jobq.operations")
BATCH = 500  # jobs read and acted on per transaction
LEASE = 10.0  # seconds a runner holds an operation without writing a batch
SLOTS = 4  # operations running at once in one process
MAX_ERRORS = 20  # failures an operation keeps the details of
KEEP = 7 * 86400.0  # seconds a finished operation stays readable


@dataclass(slots=True)
class Batch:
    """One page of an operation, decided: the jobs it matched, the work, the jobs refused
    before any work (their stored values cannot make a new job), where the cursor goes."""

    matched: list[Job]
    work: Work
    refused: list[tuple[str, JobqError]]
    cursor: tuple[int, int]  # (lane, after_seq)


class Runner:
    def __init__(
        self,
        engine: Engine,
        store: OperationStore,
        batch: int = BATCH,
        lease: float = LEASE,
        slots: int = SLOTS,
    ) -> None:
        self.engine = engine
        self.store = store
        self.batch = batch
        self.lease = lease
        self.slots = slots
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.on_queue_dropped: Callable[[str], Any] | None = None  # the auth store forgets it
        # whether an operation's owner may still act on a queue (None: every queue), asked
        # before each batch; set by the app from its authenticator (None: always)
        self.may_act: Callable[[Operation, str | None], Awaitable[bool]] | None = None

    # --- starting and stopping ---

    def start(self, op: Operation) -> bool:
        """Run `op` (leased to this process) in a task; False when every slot is busy (the
        lease then passes and `resume` takes it when one frees)."""
        old = self.tasks.get(op.id)
        if old is not None and not old.done():
            old.cancel()  # it lost its lease: its next batch would be refused anyway
        elif len(self.tasks) >= self.slots:
            return False
        self.tasks[op.id] = asyncio.create_task(self._run(op), name=f"jobq-operation-{op.id}")
        return True

    def free(self) -> int:
        return max(self.slots - len(self.tasks), 0)

    async def resume(self, now: float) -> float | None:
        """Take over the operations whose runner stopped (their lease passed), as many as
        there are free slots; when to look again (None: when a slot frees, or never)."""
        if not self.free():
            return None  # a runner that ends asks for a look (`_run`)
        taken, next_lease = await self.store.take(now, self.lease, lease_key(), self.free())
        for op in taken:
            self.start(op)
        return next_lease if self.free() else None

    async def stop(self) -> None:
        """Stop every runner of this process (their operations resume after a restart)."""
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def join(self, op_id: str) -> None:
        """Wait until this process's runner of `op_id` (if any) ends."""
        task = self.tasks.get(op_id)
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)

    # --- running ---

    async def _run(self, op: Operation) -> None:
        me = asyncio.current_task()
        try:
            walk = lanes(op.action, Selection.from_json(op.selection), op.queues)
            current: Operation | None = op
            while current is not None and current.state == "running":
                current = await self.step(current, walk)
        except StoreUnavailable as exc:
            log.warning("operation %s paused (its lease passes, then it resumes): %s", op.id, exc)
        except Exception as exc:
            log.exception("operation %s failed", op.id)
            why = f"{type(exc).__name__}: {exc}"[:500]
            with contextlib.suppress(Exception):
                await self.store.stop(op.id, "failed", why, self.engine.clock())
        finally:
            if self.tasks.get(op.id) is me:
                del self.tasks[op.id]
                self.engine.on_timer(self.engine.clock())  # a slot is free: look for waiting work

    async def step(
        self, op: Operation, walk: Sequence[tuple[str | None, State]]
    ) -> Operation | None:
        """One batch of `op`; the operation after it (None: another runner holds it)."""
        now = self.engine.clock()
        if op.lane >= len(walk):
            return await self._finish(op, now)
        queue = walk[op.lane][0]
        if self.may_act is not None and not await self.may_act(op, queue):
            where = "every queue" if queue is None else f"queue {queue}"
            why = f"{op.owner} may no longer {op.action} jobs of {where}: the operation stopped"
            await self.store.stop(op.id, "failed", why, now)
            return None
        batch = self._decide(op, await self._page(op, walk[op.lane]), now)
        done = await self.store.advance(
            op, batch.work, lambda worked: settled(op, batch, worked, now, self.lease), now
        )
        if done is None:
            return None
        worked, after = done
        self.engine.published(worked)
        return after

    async def _page(self, op: Operation, lane: tuple[str | None, State]) -> list[Job]:
        queue, state = lane
        return await self.store.lane(queue, state, op.after_seq, op.upto_seq, self.batch)

    def _decide(self, op: Operation, page: list[Job], now: float) -> Batch:
        selection = Selection.from_json(op.selection)
        matched = [j for j in page if selection.matches(j) and acts_on(op.action, j)]
        end = len(page) < self.batch
        cursor = (op.lane + 1, 0) if end else (op.lane, page[-1].seq)
        work, refused = self.work(op, matched, now)
        return Batch(matched, work, refused, cursor)

    def work(
        self, op: Operation, jobs: list[Job], now: float
    ) -> tuple[Work, list[tuple[str, JobqError]]]:
        """What `op.action` does to `jobs`, and the jobs it cannot even try."""
        if op.action == "retry":
            return self.retries(jobs, now)
        if op.action == "cancel":
            details = {"operation": op.id}
            decide = _cancel(op.reason, details, now)
            return Work(steps=[Step(job.id, decide) for job in jobs]), []
        # delete, purge, drop_queue: each deletes jobs in the states it acts on
        return Work(deletes=[job.id for job in jobs], deletable=ACTIONS[op.action]), []

    def retries(self, jobs: list[Job], now: float) -> tuple[Work, list[tuple[str, JobqError]]]:
        """A new job for each of `jobs` (linked by retry_of), or why one cannot be made."""
        made: list[Job] = []
        refused: list[tuple[str, JobqError]] = []
        for job, new_id in zip(jobs, new_ids(len(jobs), now), strict=True):
            try:
                made.append(self.engine.build(JobSpec.from_job(job, retry_of=job.id), now, new_id))
            except JobqError as exc:
                refused.append((job.id, exc))
        return Work(inserts=made), refused

    async def _finish(self, op: Operation, now: float) -> Operation | None:
        """The end of the walk: done; for a queue's deletion, the queue goes too (kept, and
        the operation failed, while jobs of it still run)."""
        state, message = "done", None
        if op.action == "drop_queue":
            [name] = op.selection["queues"]
            if await self.store.drop_queue(name):
                if self.on_queue_dropped is not None:
                    await self.on_queue_dropped(name)
            else:
                state = "failed"
                message = f"queue {name} still has running jobs: it is kept (paused)"
        ended = replace(op, state=state, message=message, updated_at=now, finished_at=now)
        ended.lease_token = ended.lease_until = None
        done = await self.store.advance(op, Work(), lambda _: ended, now)
        return None if done is None else done[1]


def _cancel(reason: str | None, details: Any, now: float) -> Callable[[Job], Any]:
    return lambda job: rules.cancel(job, reason, details, now)


def settled(op: Operation, batch: Batch, worked: Worked, now: float, lease: float) -> Operation:
    """`op` after `batch` did what `worked` says (decided inside the batch's transaction)."""
    failures = list(batch.refused) + list(_failures(batch, worked))
    after = replace(op, errors=list(op.errors), updated_at=now, lease_until=now + lease)
    after.lane, after.after_seq = batch.cursor
    after.matched += len(batch.matched)
    after.failed += len(failures)
    after.done += len(batch.matched) - len(failures)
    for job_id, exc in failures[: max(MAX_ERRORS - len(after.errors), 0)]:
        after.errors.append({"id": job_id, "code": exc.code, "message": exc.message})
    return after


def _failures(batch: Batch, worked: Worked) -> list[tuple[str, JobqError]]:
    """The jobs of `batch` its work could not act on, each with why."""
    out: list[tuple[str, JobqError]] = []
    for (job, created), old in zip(worked.inserted, batch.work.inserts, strict=True):
        if not created:
            source = old.retry_of or ""
            out.append((source, rules.retried_already(source, job.id)))
    for result, step in zip(worked.moved, batch.work.steps, strict=True):
        if isinstance(result, JobqError):
            out.append((step.job_id, result))
    for job_id, state in zip(batch.work.deletes, worked.deleted, strict=True):
        if state is None:
            out.append((job_id, NotFound("job not found", id=job_id)))
        elif state not in batch.work.deletable:
            out.append((job_id, Conflict(f"the job is {state} now", state=str(state), id=job_id)))
    return out
