"""Many jobs at once: the engine's bulk retry, cancel and delete, by ids (answered at once,
each job on its own) or by filter (an operation, run in the background: see
jobq.engine.operations), and the removal of queues.

`Engine` (jobq.engine.core) is a `Bulk`; interfaces decide which queues the caller may act on
and hand them here, as they do for one job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from jobq import fields
from jobq.engine import respawn, rules
from jobq.engine.operations import Runner
from jobq.engine.selection import Selection, lanes
from jobq.engine.specs import JobSpec
from jobq.entropy import lease_key
from jobq.errors import Conflict, InvalidInput, JobqError, NotFound
from jobq.model import (
    Defaults,
    Job,
    JobQuery,
    Moved,
    Operation,
    QueueChange,
    Step,
    Worked,
    new_id,
    new_ids,
)
from jobq.store.base import Store
from jobq.store.operations import OperationStore

MAX_IDS = 1000  # ids one request may name
MAX_RUNNING = 4  # operations one user may have running at once


class Bulk:
    store: Store
    operation_store: OperationStore
    runner: Runner
    defaults: Defaults
    clock: Callable[[], float]
    on_timer: Callable[[float], None]
    build: Callable[..., Job]
    _publish: Callable[..., None]

    # --- by ids: each job on its own, in one transaction ---

    async def retry_each(self, ids: Sequence[str]) -> list[Job | JobqError]:
        """A new job for each finished job named (its retry), or why not: not found, not
        finished, or retried already (Conflict naming the retry)."""
        _check_ids(ids)
        now = self.clock()
        found = await self._found(ids)
        outcomes: list[Job | JobqError | None] = []
        new: list[Job] = []
        for job_id, fresh_id in zip(ids, new_ids(len(ids), now), strict=True):
            try:
                new.append(self._retry_of(found.get(job_id), job_id, now, fresh_id))
                outcomes.append(None)
            except JobqError as exc:
                outcomes.append(exc)
        inserted = await self.store.insert(new, now) if new else []
        self._publish([Moved(j, None) for j, created in inserted if created], now)
        made = iter(zip(new, inserted, strict=True))
        return [o if o is not None else _made(*next(made)) for o in outcomes]

    def _retry_of(self, old: Job | None, job_id: str, now: float, fresh_id: str) -> Job:
        if old is None:
            raise NotFound("job not found", id=job_id)
        rules.retryable_source(old)
        respawn.check_manual_retry(old)
        return self.build(JobSpec.from_job(old, retry_of=old.id), now, fresh_id)

    async def _found(self, ids: Sequence[str]) -> dict[str, Job]:
        unique = list(dict.fromkeys(ids))
        return {
            j.id: j for j in await self.store.list_jobs(JobQuery(ids=unique, limit=len(unique)))
        }

    async def cancel_each(
        self, ids: Sequence[str], reason: str | None = None, details: Any = None
    ) -> list[Job | JobqError]:
        """Cancel each job named (a running one is asked to stop), or why not."""
        _check_ids(ids)
        fields.json_strings([reason, details], "cancel details")
        now = self.clock()
        steps = [Step(i, lambda j: rules.cancel(j, reason, details, now)) for i in ids]
        results = await self.store.transition(steps, now) if steps else []
        self._publish([r for r in results if isinstance(r, Moved)], now)
        return [r.job if isinstance(r, Moved) else r for r in results]

    # --- by filter: operations ---

    async def count_matching(
        self, action: str, selection: Selection, queues: list[str] | None, cap: int
    ) -> int:
        """How many jobs an operation of `action` would act on now (counting at most
        `cap`): what a caller confirms before starting one."""
        selection.check(action)
        if not lanes(action, selection, queues):
            return 0  # none of the queues asked for is the caller's
        return await self.store.count_jobs(selection.query(action, queues), cap)

    async def begin(
        self,
        action: str,
        selection: Selection,
        queues: list[str] | None,
        owner: str | None,
        reason: str | None = None,
    ) -> Operation:
        """Start an operation of `action` on the jobs `selection` matches in `queues` (the
        caller's, None: every queue), made before now; it runs in the background."""
        selection.check(action)
        fields.json_strings([reason], "cancel reason")
        await self._room_for(owner)
        now = self.clock()
        newest = await self.store.list_jobs(JobQuery(descending=True, limit=1))
        op = Operation(
            id=new_id(now),
            action=action,
            selection=selection.as_json(),
            queues=queues,
            owner=owner,
            upto_seq=newest[0].seq if newest else 0,
            reason=reason,
            created_at=now,
            updated_at=now,
            lease_token=lease_key(),
            lease_until=now + self.runner.lease,
        )
        await self.operation_store.create(op)
        if not self.runner.start(op):
            self.on_timer(op.lease_until or now)  # every slot is busy: taken over later
        return op

    async def _room_for(self, owner: str | None) -> None:
        """Refuse a new operation while `owner` has MAX_RUNNING running."""
        running = [o for o in await self.operation_store.operations(owner, 100) if _live(o)]
        if len(running) >= MAX_RUNNING:
            raise Conflict(
                f"{len(running)} operations of yours are running; wait for one to end "
                "(or cancel one) before starting another",
                running=[o.id for o in running],
            )

    async def operation(self, op_id: str) -> Operation:
        op = await self.operation_store.get(op_id) if len(op_id) <= 100 else None
        if op is None:
            raise NotFound("operation not found", id=op_id)
        return op

    async def operations(self, owner: str | None, limit: int) -> list[Operation]:
        """The newest operations of `owner` (None: everyone's)."""
        return await self.operation_store.operations(owner, limit)

    async def cancel_operation(self, op_id: str) -> Operation:
        """Stop a running operation after its current batch (what it did stays done)."""
        op = await self.operation(op_id)
        if not await self.operation_store.stop(op_id, "cancelled", "cancelled", self.clock()):
            raise Conflict(f"the operation is {op.state}", id=op_id, state=op.state)
        return await self.operation(op_id)

    async def resume_operations(self, now: float) -> float | None:
        """Take over operations whose runner stopped (the duties); when to look again."""
        return await self.runner.resume(now)

    def published(self, worked: Worked) -> None:
        """Wake whoever waits on what a batch did: new retries, cancelled jobs."""
        now = self.clock()
        moves = [Moved(job, None) for job, created in worked.inserted if created]
        self._publish(moves + [r for r in worked.moved if isinstance(r, Moved)], now)

    # --- queues ---

    async def drop_queue(self, name: str) -> bool:
        """Forget a queue that holds no job (its paused flag, its owner and grants through
        `runner.on_queue_dropped`); False, and nothing changed, if it holds jobs."""
        fields.job(name, "default", {}, None, None)
        if not await self.operation_store.drop_queue(name):
            return False
        if self.runner.on_queue_dropped is not None:
            await self.runner.on_queue_dropped(name)
        return True

    async def clear_queue(self, name: str, owner: str | None, drop: bool) -> Operation:
        """Delete a queue's waiting jobs (purge), or with `drop` every job of it that is not
        running and then the queue; the queue is paused first when it is to go."""
        fields.job(name, "default", {}, None, None)
        await self._room_for(owner)
        if drop:
            await self.store.configure_queue(name, QueueChange(paused=True), self.clock())
        action = "drop_queue" if drop else "purge"
        return await self.begin(action, Selection(queues=[name]), [name], owner)


def _live(op: Operation) -> bool:
    return op.state == "running"


def _check_ids(ids: Sequence[str]) -> None:
    if len(ids) > MAX_IDS:
        raise InvalidInput(f"at most {MAX_IDS} ids at once", count=len(ids), max=MAX_IDS)


def _made(asked: Job, inserted: tuple[Job, bool]) -> Job | JobqError:
    """A retry inserted, or the Conflict naming the retry that was there already."""
    job, created = inserted
    return job if created else rules.retried_already(asked.retry_of or "", job.id)
