"""The worker's main loop: claim, run, report; heartbeats; graceful shutdown.

claim (long-poll, up to `batch` jobs, never more than the free slots and the prefetch;
       while claims bring work, as many in flight as those need, at most MAX_CLAIMS; while
       they come back empty, MIN_CLAIMS; each carrying the acknowledgements pending when it
       leaves)
  -> one asyncio task per job: a Python task, or a command, with a Lease kept alive; a job
     claimed ahead (no slot free yet) is held, its lease kept alive, and starts when one frees
  -> outcome: result/error/snooze into the ack batch (sent on the next claim, or on its own
     as POST /ack after ACK_LINGER), or release, or nothing
SIGTERM/SIGINT: stop claiming, give running jobs `grace` seconds, then stop the rest and
release them at once; jobs held for a slot go back at once. A second signal skips what is
left of the grace period.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress

from jobq.client import AckItem, AckResult, AsyncClient, ClaimedJob
from jobq.client.calls import WorkerId
from jobq.client.errors import (
    ClientError,
    Forbidden,
    InvalidRequest,
    PayloadTooLarge,
    ServerError,
    ServerUnavailable,
    TransportError,
    Unauthorized,
)
from jobq.worker.app import Settings, TaskContext, Worker
from jobq.worker.batch import AUTH_RETRY, Batcher
from jobq.worker.command import is_command, run_command
from jobq.worker.joblog import JobLog
from jobq.worker.lease import Heartbeats, Lease, StopReason
from jobq.worker.outcome import Outcome
from jobq.worker.report import Reach, Tally
from jobq.worker.task import run_task

log = logging.getLogger("jobq.worker")
ACK_LINGER = 0.005  # seconds a finished job waits for others to share its acknowledgement
CLAIM_LINGER = 0.005  # seconds freed slots gather before a claim smaller than half a batch
MIN_CLAIMS = 4  # claims in flight whatever the batch, and all an idle worker keeps polling
MAX_CLAIMS = 64  # and never more
COMMAND_TYPE = "command"  # the type the worker runs as a command besides its tasks
# jobs that run under this many seconds on average are claimed a batch ahead (by default):
# the next batch's round trip overlaps the end of this one, and a held job waits about one
# job's run time for its slot; longer jobs are left for idle workers to take
QUICK_JOB = 0.1


class Refused(Exception):
    """The server would not let this worker claim from the start (no key, a bad key, or no
    worker role on a queue): a mistake in how it was started, so it stops."""


class Runner:
    def __init__(self, client: AsyncClient, app: Worker, settings: Settings) -> None:
        self.client = client
        self.app = app
        self.settings = settings
        self.batch = settings.batch or min(settings.concurrency, 100)
        name = settings.name or f"{socket.gethostname()}-{os.getpid()}"
        self.me = WorkerId(name, socket.gethostname(), os.getpid(), settings.concurrency)
        # a claim names the types this worker can run and no other: a job of any other type
        # waits for a worker that can (and shows as a no_worker problem meanwhile)
        self.types = sorted({*app.tasks, COMMAND_TYPE})
        self.heartbeats = Heartbeats(client)
        # acknowledgements wait ACK_LINGER for a claim to carry them (batch-full never hurries
        # them out on their own: a claim is due as soon as a job ends and frees its slot)
        self.acks: Batcher[AckItem] = Batcher(
            self._send_acks,
            max(self.batch, 1000),
            ACK_LINGER,
            max_pending=10**9,
            what="ack batch",
            retry_refused=self._still_held,
        )
        self.claims: set[asyncio.Task[None]] = set()
        self.max_claims = claims_in_flight(settings.concurrency, self.batch)
        self.work_flows = False  # the last claim answered brought jobs
        self.reserved = 0  # slots promised to the claims in flight
        self.failures = 0
        self.threads = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="jobq-task")
        self.running: dict[asyncio.Task[None], Lease] = {}
        self.held: deque[Lease] = deque()  # claimed ahead, waiting for a slot
        self.pace = Pace()
        self.stopping = asyncio.Event()
        self.hurry = asyncio.Event()
        self.slot_freed = asyncio.Event()
        self.refused: ClientError | None = None
        self.accepted = False  # a claim went through: a refusal now is a change on the server
        self.locked_out: ClientError | None = None  # the server refuses the key it once took
        self.lease_ends: dict[str, float] = {}  # job id -> its lease's end, while reported
        self.claimed = 0  # jobs the claims brought, all told (for settings.max_jobs)
        self.tally = Tally()
        self.reach = Reach(getattr(client, "url", "the server"))  # (test doubles have none)

    # --- lifecycle ---

    async def run(self) -> None:
        self._install_signals()
        self.heartbeats.start()
        log.info(
            "worker %s: queues %s, types %s, concurrency %d",
            self.me.name,
            ",".join(self.settings.queues),
            ",".join(self.types),
            self.settings.concurrency,
        )
        try:
            await self._claim_loop()
            await self._shut_down()
        finally:
            await self.acks.close()
            await self.heartbeats.stop()
            self.threads.shutdown(wait=False, cancel_futures=True)
        log.info("worker %s stopped: %s", self.me.name, self.tally.summary())

    def request_stop(self) -> None:
        """First call: stop claiming and drain; a second: stop the running jobs now."""
        if self.stopping.is_set():
            log.warning("second signal: stopping running jobs now")
            self.hurry.set()
        else:
            log.info("shutting down: no more claims; %d running", len(self.running))
            self.stopping.set()
        self.slot_freed.set()

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_stop)

    async def _shut_down(self) -> None:
        self._hand_back_held()
        tasks = set(self.running)
        if tasks:
            log.info("waiting up to %gs for %d running jobs", self.settings.grace, len(tasks))
            await self._drain(tasks)
        for lease in list(self.running.values()):
            lease.stop(StopReason.shutdown)
        await asyncio.gather(*self.running, return_exceptions=True)

    async def _drain(self, tasks: set[asyncio.Task[None]]) -> None:
        """Until every task is done, the grace period is over, or a second signal came."""
        all_done = asyncio.ensure_future(asyncio.wait(tasks))
        hurry = asyncio.create_task(self.hurry.wait())
        await asyncio.wait(
            {all_done, hurry}, timeout=self.settings.grace, return_when=asyncio.FIRST_COMPLETED
        )
        all_done.cancel()
        hurry.cancel()

    # --- claiming ---

    async def _claim_loop(self) -> None:
        while not self.stopping.is_set():
            if self.failures:
                await self._pause(min(0.2 * 2**self.failures, 10.0))
                if self.stopping.is_set():
                    break
            room = self._room()
            most = self.max_claims if self.work_flows else MIN_CLAIMS
            if self.locked_out is not None:
                most = 1  # one claim at a time asks whether the server takes us again
            if room <= 0 or len(self.claims) >= most or self._burst_idle():
                await self._slot_freed()
                continue
            if room < self.batch / 2 and self.running:
                await self._slot_freed(CLAIM_LINGER)  # let a few more finish
                room = self._room()
                if room <= 0:
                    continue
            self._send_claim(min(room, self.batch))
        await asyncio.gather(*self.claims, return_exceptions=True)

    def _burst_idle(self) -> bool:
        """In burst mode, after a claim found nothing while jobs still run: the next claim
        waits for one of them to end (claims do not long-poll then, and would spin)."""
        return self.settings.burst and not self.work_flows and bool(self.running or self.claims)

    def _room(self) -> int:
        """How many more jobs a claim may bring: the free slots and the prefetch, less the jobs
        held and those the claims in flight may bring."""
        taken = len(self.running) + len(self.held) + self.reserved
        room = self.settings.concurrency + self._prefetch() - taken
        if self.settings.max_jobs is not None:  # never claim past the limit
            room = min(room, self.settings.max_jobs - self.claimed - self.reserved)
        return room

    def _prefetch(self) -> int:
        if self.settings.prefetch is not None:
            return self.settings.prefetch
        return self.batch if self.pace.mean < QUICK_JOB else 0

    async def _slot_freed(self, timeout: float | None = None) -> None:
        self.slot_freed.clear()
        with suppress(TimeoutError):
            await asyncio.wait_for(self.slot_freed.wait(), timeout)

    def _send_claim(self, limit: int) -> None:
        self.reserved += limit
        task = asyncio.create_task(self._claim(limit))
        self.claims.add(task)

        def done(_: asyncio.Task[None]) -> None:
            self.claims.discard(task)
            self.reserved -= limit
            self.slot_freed.set()

        task.add_done_callback(done)

    async def _claim(self, limit: int) -> None:
        """One claim, carrying the pending acknowledgements; starts the jobs it brings."""
        s = self.settings
        wait = 0.0 if s.burst else s.claim_wait
        acks = self.acks.take()
        try:
            if acks:
                results, jobs = await self.client.ack_and_claim(
                    acks,
                    s.queues,
                    self.me,
                    types=self.types,
                    max=limit,
                    wait=wait,
                    lease_seconds=s.lease,
                )
            else:
                results, jobs = (
                    [],
                    await self.client.claim(
                        s.queues,
                        self.me,
                        types=self.types,
                        max=limit,
                        wait=wait,
                        lease_seconds=s.lease,
                    ),
                )
        except (TransportError, ServerUnavailable) as exc:
            self.acks.give_back(acks)
            self.failures += 1
            self.reach.failed(exc.reason if isinstance(exc, TransportError) else str(exc))
            return
        except (Unauthorized, Forbidden) as exc:
            self.acks.give_back(acks)
            if self.accepted:
                await self._lock_out(exc)
            else:
                self._refused(exc)
            return
        except ClientError as exc:  # the server refused this claim: log, back off, go on
            # the outcomes may be why (a result over the body limit): they go on their own at
            # once, while the claims back off, so one bad outcome cannot keep every claim failing
            self.acks.give_back(acks, now=True)
            self.failures += 1
            log.error("claim refused: %s", exc)
            return
        self._accepted()
        self.work_flows = bool(jobs)
        self.claimed += len(jobs)
        for result in results:
            self._note(result)
        for job in jobs:
            self._start(job)
        if s.burst and self._out_of_work() and not self.stopping.is_set():
            log.info("burst: no job waiting and none running; stopping")
            self.request_stop()

    def _accepted(self) -> None:
        """The server took a claim: no failures in a row, and no lock-out any more."""
        self.failures = 0
        self.reach.answered()
        self.accepted = True
        if self.locked_out is not None:
            log.warning("the server accepts this worker again: claiming")
            self.locked_out = None

    def _limit_reached(self) -> bool:
        """settings.max_jobs jobs claimed, and every one of them has finished."""
        most = self.settings.max_jobs
        return most is not None and self.claimed >= most and not self.running and not self.held

    def _out_of_work(self) -> bool:
        """Nothing running, held, or still to come from another claim in flight (this claim
        is the one left in `self.claims`), and this claim brought nothing."""
        return not self.running and not self.held and len(self.claims) <= 1 and not self.work_flows

    async def _lock_out(self, exc: ServerError) -> None:
        """The server refuses the key it once took (authentication was turned on, the key
        revoked, a grant taken away): say so once, keep the jobs, try again every AUTH_RETRY
        seconds. Running jobs go on; their outcomes wait (see _still_held)."""
        if self.locked_out is None:
            log.error(
                "the server now refuses this worker (%s): %s; retrying every %g s",
                exc.status,
                _fix_for(exc),
                AUTH_RETRY,
            )
        self.locked_out = exc
        await self._pause(AUTH_RETRY)

    def _refused(self, exc: ClientError) -> None:
        """Stop at once: the running jobs cannot be reported either."""
        log.error("the server refuses this worker: %s", exc)
        self.refused = exc
        self.stopping.set()
        self.hurry.set()

    async def _pause(self, seconds: float) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    def _start(self, job: ClaimedJob) -> None:
        """Run a claimed job, or hold it until a slot frees (its lease kept alive meanwhile)."""
        lease = Lease(job)
        if self.stopping.is_set():
            lease.stop(StopReason.shutdown)
        elif len(self.running) >= self.settings.concurrency:
            self.held.append(lease)
            self.heartbeats.add(lease)
            return
        self._launch(lease)

    def _launch(self, lease: Lease) -> None:
        task = asyncio.create_task(self._execute(lease))
        self.running[task] = lease
        task.add_done_callback(self._finished)

    def _hand_back_held(self) -> None:
        """On shutdown, once the last claims are back (a claim still in flight would take a
        job handed back earlier straight back): the jobs held for a slot go back at once."""
        while self.held:
            lease = self.held.popleft()
            lease.stop(StopReason.shutdown)
            self._launch(lease)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.running.pop(task, None)
        if self.held and not self.stopping.is_set():
            self._launch(self.held.popleft())
        self.slot_freed.set()
        if self._limit_reached() and not self.stopping.is_set():
            log.info("ran %d jobs (--max-jobs): stopping", self.claimed)
            self.request_stop()
        if not task.cancelled() and task.exception() is not None:
            log.error("job task crashed", exc_info=task.exception())

    # --- one job ---

    async def _execute(self, lease: Lease) -> None:
        joblog = JobLog(self.client, lease.job.id)
        self.heartbeats.add(lease)
        started = time.monotonic()
        try:
            if lease.stop_reason is None:
                self.tally.started(lease.job)
                outcome = await self._run(lease, joblog)
                self.pace.took(time.monotonic() - started)
            else:
                outcome = Outcome()
        finally:
            lease.finish()  # a job done while shutdown began is reported, not released
            self.heartbeats.remove(lease)
            await joblog.close()
        await self._settle(lease, outcome, time.monotonic() - started)

    async def _run(self, lease: Lease, joblog: JobLog) -> Outcome:
        job = lease.job
        fn = self.app.tasks.get(job.type)
        if fn is not None:
            ctx = TaskContext(
                job,
                asyncio.get_running_loop(),
                joblog.write,
                lambda p: self._report_progress(lease, p),
            )
            return await run_task(fn, ctx, lease, self.threads)
        if is_command(job.type, job.payload):
            return await run_command(job.payload, lease, joblog, self.settings.grace)
        return Outcome.failure(
            "no_handler",
            f"this worker has no task for type {job.type!r}",
            {"worker": self.me.name},
            retryable=False,
        )

    def _report_progress(self, lease: Lease, progress: dict[str, object]) -> None:
        lease.set_progress(dict(progress))
        self.heartbeats.poke()

    async def _settle(self, lease: Lease, outcome: Outcome, took: float) -> None:
        """Tell the server how the attempt ended (or, for a lost lease, nothing), and log it."""
        job, reason = lease.job, lease.stop_reason
        if reason == StopReason.lost:
            self.tally.lost(job, took)
            return
        if reason == StopReason.shutdown:
            await self._release(lease)
            return
        if reason == StopReason.cancel:
            outcome = Outcome.failure(
                "cancelled", "stopped on request", exit_code=outcome.exit_code
            )
        elif reason == StopReason.deadline:
            outcome = Outcome.failure(
                "deadline_exceeded",
                "the job ran past its deadline",
                retryable=False,
                exit_code=outcome.exit_code,
            )
        elif not lease.progress_sent:
            await self.heartbeats.beat(lease)
        self.tally.ended(job, outcome, took)
        self.lease_ends[job.id] = lease.expires
        self.acks.put(
            AckItem(
                job.id,
                lease.token,
                outcome.result,
                outcome.error,
                outcome.retryable,
                outcome.exit_code,
                outcome.snooze,
            )
        )

    async def _release(self, lease: Lease) -> None:
        try:
            await self.client.release(lease.job.id, lease.token)
            self.tally.handed_back(lease.job)
        except ClientError as exc:
            log.warning("could not hand back job %s: %s", lease.job.id, exc)

    async def _send_acks(self, items: list[AckItem]) -> None:
        """Send outcomes. The server refuses a batch whole when one outcome in it cannot be
        kept (a result over the body limit, say): then they go one by one, so the others land,
        and the refused one goes again as a failure saying why, so its job does not sit out
        its lease."""
        try:
            results = await self.client.ack(items)
        except (InvalidRequest, PayloadTooLarge) as exc:
            if len(items) > 1:
                for item in items:
                    await self._send_acks([item])
                return
            results = await self._send_refused(items[0], exc)
        for result in results:
            self._note(result)

    def _note(self, result: AckResult) -> None:
        self.lease_ends.pop(result.id, None)
        if not result.ok:
            error = result.error or {}
            log.warning("job %s: acknowledgement refused: %s", result.id, error.get("code"))

    def _still_held(self, items: list[AckItem]) -> bool:
        """Whether outcomes the server refused to take from this worker (401, 403) are worth
        sending again: while the lease of one of their jobs may still run (past that the
        server has handed the job to another attempt, and the outcome no longer counts), and
        not once a second signal asked the worker to stop now."""
        if self.hurry.is_set():
            return False
        now = time.monotonic()
        gone = [i.id for i in items if self.lease_ends.get(i.id, 0.0) <= now]
        for job_id in gone:
            self.lease_ends.pop(job_id, None)
        return len(gone) < len(items)

    async def _send_refused(self, item: AckItem, refusal: ServerError) -> list[AckResult]:
        log.error("job %s: the server refused its outcome: %s", item.id, refusal)
        try:
            return await self.client.ack([refused_outcome(item, refusal)])
        except (InvalidRequest, PayloadTooLarge) as exc:  # the lease's end recovers the job
            log.error("job %s: the server refused its failure too: %s", item.id, exc)
            return []


class Pace:
    """How long this worker's jobs run, on average over the last few dozen (unknown, infinite,
    until one ran)."""

    WEIGHT = 0.05  # of the newest job

    def __init__(self) -> None:
        self.mean = float("inf")

    def took(self, seconds: float) -> None:
        if self.mean == float("inf"):
            self.mean = seconds
        else:
            self.mean += self.WEIGHT * (seconds - self.mean)


def claims_in_flight(concurrency: int, batch: int) -> int:
    """How many claims a worker keeps in flight while they bring work: enough to fill every
    slot with claims of `batch` (a worker with 32 slots claiming one job at a time keeps 32
    requests going, so a round trip's wait is not each slot's), at least MIN_CLAIMS, at most
    MAX_CLAIMS. An idle worker keeps MIN_CLAIMS long-polls, not one per slot: an idle fleet
    would otherwise poll the server many times over."""
    return max(MIN_CLAIMS, min(MAX_CLAIMS, -(-concurrency // max(batch, 1))))


def refused_outcome(item: AckItem, refusal: ServerError) -> AckItem:
    """The failure that replaces an outcome the server would not take. Not retried if the
    task had succeeded (its result would be refused again); a failure keeps its own choice,
    and a snooze (refused by a server older than snoozes) is retried."""
    error = {
        "code": "outcome_refused",
        "message": f"the server refused this attempt's outcome: {refusal.message[:500]}",
        "details": {"status": refusal.status, "code": refusal.code},
    }
    retryable = item.retryable if item.error is not None or item.snooze is not None else False
    return AckItem(item.id, item.token, None, error, retryable)


def _fix_for(exc: ServerError) -> str:
    """What an operator does about a refusal, in a few words."""
    if isinstance(exc, Unauthorized):
        return "it needs an API key: set JOBQ_KEY or --key and restart it"
    return "its key may not work these queues: grant its user the worker role"


async def serve(app: Worker, url: str | None, settings: Settings, key: str | None = None) -> None:
    """Run a worker until it is told to stop; Refused when the server will not have it."""
    max_connections = settings.concurrency * 2 + 10
    async with AsyncClient(url, key=key, max_connections=max_connections) as client:
        runner = Runner(client, app, settings)
        await runner.run()
    if runner.refused is not None:
        raise Refused(str(runner.refused))
