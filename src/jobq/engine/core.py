"""The engine: the one place that knows what may happen to a job.

Interfaces call it; it decides (see `jobq.engine.rules`), asks the store to apply the decision
atomically, and then wakes whoever waits on the outcome through the notifier. What it
answers without changing a job is in `jobq.engine.reads`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import replace
from typing import Any

from jobq import fields, reserved
from jobq.engine import respawn, rules
from jobq.engine.bulk import Bulk
from jobq.engine.handoff import Parked, Parking
from jobq.engine.limits import REFRESH, LimitedQueues, check_limits
from jobq.engine.operations import Runner
from jobq.engine.problems import ProblemFinder, ProblemSettings
from jobq.engine.reads import EVENTS, Reads, job_channel, logs_channel
from jobq.engine.rules import Reporter
from jobq.engine.specs import Ack, JobSpec
from jobq.engine.stats import QueueStatsCache, ThroughputCache
from jobq.entropy import lease_key
from jobq.errors import Conflict, InvalidInput, JobqError, StoreUnavailable
from jobq.model import (
    ClaimSpec,
    Defaults,
    Job,
    Moved,
    Plan,
    QueueChange,
    QueueLimits,
    QueueSettings,
    Step,
    StepResult,
    new_id,
    new_ids,
)
from jobq.notify import Listener, Notifier
from jobq.states import TERMINAL, WAITING, Event, State
from jobq.store.base import Store
from jobq.store.operations import operation_store_for

Clock = Callable[[], float]
log = logging.getLogger("jobq.engine")


class Engine(Reads, Bulk):
    def __init__(
        self,
        store: Store,
        notifier: Notifier,
        defaults: Defaults | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.defaults = defaults or Defaults()
        self.clock = clock
        self.on_timer: Callable[[float], None] = lambda at: None  # set by the duties
        self.problem_finder = ProblemFinder(store, ProblemSettings(self.defaults.idle_after))
        self.on_moves: Callable[[Sequence[Moved], float], None] | None = None  # observe.metrics
        self.parking = Parking()  # long-polling claims an enqueue can claim for (handoff)
        self.queue_stats = QueueStatsCache()  # one queue_stats() for every poller
        self.throughput_cache = ThroughputCache()  # one finished_counts() per question asked
        self.operation_store = operation_store_for(store)  # bulk work (jobq.engine.bulk)
        self.runner = Runner(self, self.operation_store)
        self.limited = LimitedQueues(store, clock)  # the queues with flow limits

    # --- producers ---

    async def enqueue(self, specs: Sequence[JobSpec]) -> list[tuple[Job, bool]]:
        """Insert all or none; (job, created) for each, an existing live job for a duplicate
        unique_key."""
        for spec in specs:
            fields.job(spec.queue, spec.type, spec.metadata, spec.unique_key, spec.callback_url)
            if spec.concurrency_key is not None:
                fields.text(spec.concurrency_key, "concurrency_key", fields.NAME_MAX)
        await self.limited.current()
        if self.limited.keyed:
            specs = [self.limited.keyed_spec(spec) for spec in specs]
        now = self.clock()
        ids = new_ids(len(specs), now)
        jobs = [self.build(spec, now, i) for spec, i in zip(specs, ids, strict=True)]
        takers = self.parking.take(jobs)
        if not takers:
            inserted = await self.store.insert(jobs, now)
            self._announce_new([job for job, created in inserted if created])
            return inserted
        return await self._enqueue_and_hand(jobs, takers, now)

    async def _enqueue_and_hand(
        self, jobs: list[Job], takers: list[Parked], now: float
    ) -> list[tuple[Job, bool]]:
        """Insert `jobs` and claim for the parked `takers` in one transaction, then hand each
        what it got (the jobs rendered to the producer are as inserted: queued)."""
        try:
            inserted, claimed = await self.store.insert_and_claim(
                jobs, [(p.spec, p.lease_key) for p in takers], now
            )
        except BaseException:
            for parked in takers:
                if not parked.handed.done():
                    parked.handed.set_result([])  # they claim on their own again
            raise
        held = [job for got in claimed for job in got]
        handed = {job.id for job in held}  # no one else need wake for these
        self._announce_new([job for job, created in inserted if created], handed)
        self._claimed(held, now)
        for parked, got in zip(takers, claimed, strict=True):
            if parked.handed.done():  # the claimer left meanwhile
                await self.give_back(got)
            else:
                parked.handed.set_result(got)
        await asyncio.sleep(0)  # the claimers answer first: a worker waits, the producer less so
        return inserted

    def build(self, spec: JobSpec, now: float, job_id: str | None = None) -> Job:
        reserved.check(spec.metadata)
        rules.check_lease(spec.lease_seconds)
        return spec.job(job_id or new_id(now), now, self.defaults)

    async def update(
        self,
        job_id: str,
        priority: int | None = None,
        run_at: float | None = None,
        metadata: dict[str, str] | None = None,
    ) -> Job:
        fields.metadata(metadata or {})
        if metadata is not None:
            reserved.check(metadata)
        now = self.clock()
        moved = await self._move(
            job_id, lambda j: rules.update(j, now, priority, run_at, metadata), now
        )
        return moved.job

    async def run_now(self, job_id: str) -> Job:
        """Queue a scheduled job at once, as if its run_at had come (rules.run_now)."""
        now = self.clock()
        moved = await self._move(job_id, lambda j: rules.run_now(j, now), now)
        return moved.job

    async def reprioritise(self, job_id: str, priority: int) -> Job:
        """Set the priority of a job that waits or runs (rules.reprioritise)."""
        now = self.clock()
        moved = await self._move(job_id, lambda j: rules.reprioritise(j, now, priority), now)
        return moved.job

    async def cancel(
        self, job_id: str, reason: str | None = None, details: Any = None, immediate: bool = False
    ) -> Job:
        fields.json_strings([reason, details], "cancel details")
        now = self.clock()
        moved = await self._move(
            job_id, lambda j: rules.cancel(j, reason, details, now, immediate), now
        )
        return moved.job

    async def retry(self, job_id: str, **overrides: Any) -> Job:
        """A new job made from a finished one, linked by retry_of / retried_by. A job has one
        retry: Conflict (naming it in `retried_by`) when its retry exists already."""
        old = await self.get(job_id)
        rules.retryable_source(old)
        respawn.check_manual_retry(old)
        [(job, created)] = await self.enqueue([JobSpec.from_job(old, retry_of=old.id, **overrides)])
        if not created:
            raise rules.retried_already(old.id, job.id, old.state)
        return job

    async def duplicate(self, old: Job, **overrides: Any) -> Job:
        """A new job with `old`'s settings (any state: the old job is left as it is)."""
        [(job, _)] = await self.enqueue([JobSpec.from_job(old, **overrides)])
        return job

    async def delete(self, ids: Sequence[str]) -> list[State | None]:
        """Delete finished jobs; per id the state it had (refused unless finished) or None."""
        return await self.store.delete(ids, TERMINAL)

    async def delete_all(self, jobs: Sequence[Job]) -> None:
        """Delete `jobs` (as read) all or none: Conflict, naming the first that still waits
        or runs, unless every one has finished."""
        live = [job for job in jobs if job.state not in TERMINAL]
        if live:
            first = live[0]
            raise Conflict(
                f"job {first.id} is {first.state}: only finished jobs can be deleted",
                id=first.id,
                state=str(first.state),
            )
        await self.delete([job.id for job in jobs])

    # --- workers ---

    async def claim(
        self,
        spec: ClaimSpec,
        wait: float = 0.0,
        gone: Callable[[], Awaitable[bool]] | None = None,
    ) -> list[Job]:
        """Up to spec.limit jobs, each with a lease; waits up to `wait` seconds for one.
        `gone` says whether the claimer has left (a long poll must not hand a job to a
        worker that died while it waited: the job would sit out a whole lease)."""
        _check_claim(spec)
        give_up = self.clock() + min(max(wait, 0.0), self.defaults.max_claim_wait)
        with self.notifier.listen((), spec.queues) as listener:
            while True:
                spec = replace(spec, limited=await self.limited.of(spec))
                jobs = await self._claim_now(spec)
                left = give_up - self.clock()
                if jobs or left <= 0:
                    return jobs
                if spec.limited:  # room comes back without a notification (jobq.engine.limits)
                    left = min(left, REFRESH)
                handed = await self._wait_for_work(spec, listener, left)
                if gone is not None and await gone():
                    await self.give_back(handed)
                    return []
                if handed:
                    return handed

    async def _wait_for_work(self, spec: ClaimSpec, listener: Listener, left: float) -> list[Job]:
        """Wait until woken or `left` runs out, parked: the jobs an enqueue claimed for this
        claim meanwhile ([] if none)."""
        if spec.ids is not None:
            await listener.wait(left)
            return []
        with self.parking.park(spec) as parked, listener.calling(parked.wake):
            timer = asyncio.get_running_loop().call_later(left, parked.wake)
            try:
                return await parked.handed  # one future: the hand-over wakes this task at once
            finally:
                timer.cancel()
                parked.handed.cancel()  # a no-op once handed; if not, the enqueue gives back

    async def give_back(self, jobs: Sequence[Job]) -> None:
        """Release jobs claimed for a claimer that left before it got them."""
        for job in jobs:
            if job.lease_token is not None:
                with contextlib.suppress(JobqError):
                    await self.release(job.id, job.lease_token)

    async def _claim_now(self, spec: ClaimSpec) -> list[Job]:
        now = self.clock()
        jobs = await self.store.claim(spec, lease_key(), now)
        self._claimed(jobs, now)
        return jobs

    def _claimed(self, jobs: list[Job], now: float) -> None:
        if jobs:
            self._publish([Moved(job, State.queued, Event.claim) for job in jobs], now)
            self.on_timer(min(_next_check(j, now) for j in jobs))

    async def ack_and_claim(
        self,
        acks: Sequence[Ack],
        spec: ClaimSpec,
        wait: float = 0.0,
        gone: Callable[[], Awaitable[bool]] | None = None,
    ) -> tuple[list[Job | JobqError], list[Job]]:
        """`ack(acks)` then `claim(spec, wait)`, the first try of both in one transaction: a
        worker's outcomes and its next claim cost one commit."""
        _check_claim(spec)
        spec = replace(spec, limited=await self.limited.of(spec))
        started = self.clock()
        steps, spawned = self._ack_steps(acks, started)
        results, jobs = await self.store.transition_and_claim(steps, spec, lease_key(), started)
        self._acked(results, spawned, started)
        self._claimed(jobs, started)
        if jobs or wait <= 0:
            return self._outcomes(results), jobs
        left = wait - (self.clock() - started)
        return self._outcomes(results), await self.claim(spec, max(left, 0.0), gone)

    async def heartbeat(
        self, job_id: str, token: str, progress: dict[str, Any] | None = None
    ) -> Job:
        """Extend the lease; the job returned tells whether a cancel was requested."""
        rules.validate_progress(progress)
        fields.json_strings(progress, "progress")
        now = self.clock()
        moved = await self._move(job_id, lambda j: rules.heartbeat(j, now, progress), now, token)
        return moved.job

    async def complete(self, job_id: str, token: str, result: Any = None) -> Job:
        [outcome] = await self.ack([Ack(job_id, token, result=result)])
        return _unwrap(outcome)

    async def fail(
        self,
        job_id: str,
        token: str,
        error: dict[str, Any],
        retryable: bool = True,
        exit_code: int | None = None,
    ) -> Job:
        ack = Ack(job_id, token, error=error, retryable=retryable, exit_code=exit_code)
        [outcome] = await self.ack([ack])
        return _unwrap(outcome)

    # --- reports without a lease token (Titan and Accepted workers carry none) ---

    async def complete_as(self, by: Reporter, job: Job, result: Any = None) -> Job:
        """Complete `job` (as read) for `by`, who presents no token (see `_held_token`)."""
        return await self.complete(job.id, _held_token(job, by), result)

    async def fail_as(
        self, by: Reporter, job: Job, error: dict[str, Any], retryable: bool = True
    ) -> Job:
        """Fail `job` (as read) for `by`, who presents no token (see `_held_token`)."""
        return await self.fail(job.id, _held_token(job, by), error, retryable)

    async def heartbeat_as(
        self, by: Reporter, job: Job, progress: dict[str, Any] | None = None
    ) -> Job:
        """Extend `job`'s lease (as read) for `by`, who presents no token."""
        return await self.heartbeat(job.id, _held_token(job, by), progress)

    async def ack(self, acks: Sequence[Ack]) -> list[Job | JobqError]:
        """Complete or fail many jobs in one transaction; each succeeds or fails alone."""
        if not acks:
            return []
        now = self.clock()
        steps, spawned = self._ack_steps(acks, now)
        results = await self.store.transition(steps, now)
        self._acked(results, spawned, now)
        return self._outcomes(results)

    @staticmethod
    def _ack_steps(acks: Sequence[Ack], now: float) -> tuple[list[Step], dict[str, Job]]:
        for ack in acks:
            fields.json_strings(ack.error, "error")
            if ack.snooze is not None:
                rules.check_snooze_ack(ack.snooze, ack.result, ack.error)
        spawned: dict[str, Job] = {}
        steps = [
            Step(a.job_id, respawn.wrap(_ack_plan(a, now), now, spawned), a.token) for a in acks
        ]
        return steps, spawned

    def _acked(self, results: Sequence[StepResult], spawned: dict[str, Job], now: float) -> None:
        self._publish([r for r in results if isinstance(r, Moved)], now)
        self._publish(respawn.spawned_moves(results, spawned), now)

    @staticmethod
    def _outcomes(results: Sequence[StepResult]) -> list[Job | JobqError]:
        return [r.job if isinstance(r, Moved) else r for r in results]

    async def release(self, job_id: str, token: str) -> Job:
        """Hand a claimed job back to its queue at once (a worker shutting down)."""
        now = self.clock()
        return (await self._move(job_id, rules.release, now, token)).job

    async def snooze(
        self, job_id: str, token: str, seconds: float | None = None, until: float | None = None
    ) -> Job:
        """Hand a claimed job back to run `seconds` from now, or at `until` (a time already
        past: at once), without counting the attempt (rules.snooze)."""
        if (seconds is None) == (until is None):
            raise InvalidInput("a snooze gives either seconds or a time to run at")
        if until is not None:
            seconds = max(until - self.clock(), 0.0)
        assert seconds is not None
        [outcome] = await self.ack([Ack(job_id, token, snooze=seconds)])
        return _unwrap(outcome)

    async def append_logs(
        self, job_id: str, entries: Sequence[tuple[float | None, str, str]]
    ) -> int:
        fields.log_entries(entries)
        job = await self.get(job_id)
        now = self.clock()
        rows = [(t if t is not None else now, stream, text) for t, stream, text in entries]
        last = await self.store.append_logs(job_id, rows, job.attempt, self.defaults.max_log_bytes)
        self.notifier.publish(logs_channel(job_id), last)
        return last

    # --- queues and workers ---

    async def pause(self, queue: str) -> None:
        await self.store.configure_queue(queue, QueueChange(paused=True), self.clock())

    async def resume(self, queue: str) -> None:
        await self.store.configure_queue(queue, QueueChange(paused=False), self.clock())
        self.notifier.work_available(queue, 1_000_000)

    async def set_limits(self, queue: str, limits: QueueLimits) -> QueueSettings:
        """Set `queue`'s flow limits (all None: none), in effect for the next claim."""
        fields.job(queue, "default", {}, None, None)
        change = QueueChange(limits=check_limits(limits))
        await self.store.configure_queue(queue, change, self.clock())
        await self.limited.refresh()
        self.notifier.work_available(queue, 1_000_000)  # a limit raised or gone: room
        settings = await self.store.queue_settings([queue])
        return settings.get(queue, QueueSettings())

    # --- background duties (called by jobq.engine.duties) ---

    async def promote_due(self, now: float, limit: int = 1000) -> int:
        ids = await self.store.due_scheduled(now, limit)
        return await self._run_duty([Step(i, lambda j: rules.due(j, now)) for i in ids], {}, now)

    async def expire_overdue(self, now: float, limit: int = 1000) -> int:
        ids = await self.store.overdue_running(now, limit)
        spawned: dict[str, Job] = {}
        decide = respawn.wrap(lambda j: rules.overdue(j, now), now, spawned)
        return await self._run_duty([Step(i, decide) for i in ids], spawned, now)

    async def _run_duty(self, steps: Sequence[Step], spawned: dict[str, Job], now: float) -> int:
        """Apply a duty's steps; how many jobs moved (a job failed as unprocessable counts)."""
        if not steps:
            return 0
        results, unprocessable = await self._transition_isolated(steps, now)
        moved = [r for r in results if isinstance(r, Moved)]
        self._publish(moved, now)
        self._publish(respawn.spawned_moves(results, spawned), now)
        return len(moved) + unprocessable

    async def _transition_isolated(
        self, steps: Sequence[Step], now: float
    ) -> tuple[list[StepResult], int]:
        """The steps' results, all in one transaction when it can be; when it cannot, each
        step alone, and a job whose own step still fails is failed as unprocessable: one row
        the rules or the database cannot take never holds back the others. Only an
        unreachable store stops it all (the duties try again later)."""
        try:
            return await self.store.transition(steps, now), 0
        except StoreUnavailable:
            raise
        except Exception:
            pass
        results: list[StepResult] = []
        unprocessable = 0
        for step in steps:
            try:
                results.extend(await self.store.transition([step], now))
            except StoreUnavailable:
                raise
            except Exception as exc:
                unprocessable += await self.fail_unprocessable(step.job_id, exc, now)
        return results, unprocessable

    async def fail_unprocessable(self, job_id: str, exc: Exception, now: float) -> bool:
        """Fail a job whose stored values cannot be processed, saying why."""
        log.error("job %s cannot be processed; failing it: %r", job_id, exc)
        error = {
            "code": "unprocessable",
            "message": "jobq could not process this job's stored values; it was failed",
            "details": {"reason": f"{type(exc).__name__}: {exc}"[:500]},
        }
        ttl = self.defaults.result_ttl
        purge_at = None if ttl is None else now + ttl
        try:
            failed = await self.store.fail_unprocessable(job_id, error, now, purge_at)
        except StoreUnavailable:
            raise
        except Exception:
            log.exception("job %s could not be failed either; it is left as it is", job_id)
            return False
        if failed and purge_at is not None:
            self.on_timer(purge_at)
        return failed

    # --- internals ---

    async def _move(
        self, job_id: str, decide: Callable[[Job], Plan], now: float, token: str | None = None
    ) -> Moved:
        [result] = await self.store.transition([Step(job_id, decide, token)], now)
        if isinstance(result, JobqError):
            raise result
        self._publish([result], now)
        return result

    def _announce_new(self, jobs: Sequence[Job], handed: Collection[str] = ()) -> None:
        now = self.clock()
        self._publish([Moved(job, None) for job in jobs], now, handed)

    def _publish(self, moves: Sequence[Moved], now: float, handed: Collection[str] = ()) -> None:
        """Wake waiters and stream events for jobs that moved; `handed`: ids of new jobs
        already claimed in their enqueue's transaction, which wake no claimer."""
        if self.on_moves is not None:
            self.on_moves(moves, now)
        ready: dict[str, int] = {}
        limited = self.limited.names
        for move in moves:
            job = move.job
            if job.state == State.queued and job.id not in handed:
                ready[job.queue] = ready.get(job.queue, 0) + 1
            elif job.state == State.scheduled:
                self.on_timer(job.run_at)
            if move.previous is State.running is not job.state and job.queue in limited:
                ready[job.queue] = ready.get(job.queue, 0) + 1  # room in a limited queue
            if job.state in WAITING and job.deadline_at is not None:
                self.on_timer(job.deadline_at)  # it fails then if nobody has taken it
            if job.state in TERMINAL or job.cancel_requested:
                self.notifier.publish(job_channel(job.id), str(job.state))
            if job.state in TERMINAL and job.callback_url:
                self.on_timer(now)  # its callback is due
            if job.state in TERMINAL and job.purge_at is not None:
                self.on_timer(job.purge_at)
        for queue, count in ready.items():
            self.notifier.work_available(queue, count)
        if self.notifier.has_listeners(EVENTS):
            for move in moves:
                self.notifier.publish(EVENTS, _event(move, now))


def _check_claim(spec: ClaimSpec) -> None:
    if spec.limit < 1 or spec.queues == []:
        raise InvalidInput("a claim needs at least one queue and a limit of at least 1")
    if spec.ids is not None and spec.queues is None:
        raise InvalidInput("a claim of named jobs names their queues")
    rules.check_lease(spec.lease_seconds)


def _ack_plan(ack: Ack, now: float) -> Callable[[Job], Plan]:
    if ack.snooze is not None:
        seconds = ack.snooze
        return lambda job: rules.snooze(job, now, seconds)
    if ack.error is None:
        return lambda job: rules.complete(job, ack.result, now)
    error = ack.error
    return lambda job: rules.fail(job, error, ack.retryable, ack.exit_code, now)


def _event(move: Moved, now: float) -> dict[str, Any]:
    return {
        "id": move.job.id,
        "seq": move.job.seq,
        "queue": move.job.queue,
        "type": move.job.type,
        "event": "enqueue" if move.event is None else str(move.event),
        "from": None if move.previous is None else str(move.previous),
        "to": str(move.job.state),
        "cancel_requested": move.job.cancel_requested,
        "at": now,
    }


def _held_token(job: Job, by: Reporter) -> str:
    """The token a report without one acts with: a report is about the job's current run, so
    the job's own token when `by` may report on it (rules.may_report), else none, which the
    store refuses as a stale lease (409), as for a job nobody holds."""
    return (job.lease_token or "") if rules.may_report(job, by) else ""


def _unwrap(outcome: Job | JobqError) -> Job:
    if isinstance(outcome, JobqError):
        raise outcome
    return outcome


def _next_check(job: Job, now: float) -> float:
    """When a claimed job next needs the duties: its lease ends, or its deadline passes."""
    times = [t for t in (job.lease_expires_at, job.deadline_at) if t is not None]
    return min(times) if times else now
