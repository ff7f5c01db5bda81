"""Leases the worker holds, and the one loop that keeps them alive.

Each running job has a `Lease`: its token, why it must stop (if it must), the progress to
report. `Heartbeats` renews every lease a third of the way through it (at least every
MAX_INTERVAL seconds, since the heartbeat's answer is how a worker learns of a cancel), sends
progress soon after a task reports it, and asks a job to stop when the server says so:

- `cancel_requested` in the answer: stop, then confirm with fail (the job ends cancelled);
- 409 `stale_lease` or 404: the job is no longer ours (expired, deadline, deleted): stop and
  report nothing;
- the job's deadline passed on our clock: stop, then fail with `deadline_exceeded`;
- 401 or 403 (the server stopped taking this worker's key) until the lease has run out on our
  clock: stop and report nothing (the server gives the job to another attempt).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from contextlib import suppress
from enum import StrEnum
from typing import Any

from jobq.client import AsyncClient, ClaimedJob
from jobq.client.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ServerError,
    TransportError,
    Unauthorized,
)

log = logging.getLogger("jobq.worker")
PROGRESS_EVERY = 0.25  # at most this often a progress update goes out on its own
RETRY_AFTER = 1.0  # a heartbeat that could not be sent is tried again this soon
MAX_INTERVAL = 5.0  # heartbeat at least this often, so a cancel is noticed within seconds


class StopReason(StrEnum):
    cancel = "cancel"  # the server asked (a cancel was requested)
    lost = "lost"  # the lease is no longer ours: report nothing
    deadline = "deadline"  # the job ran past its deadline
    shutdown = "shutdown"  # the worker is stopping: hand the job back


class Lease:
    """A job this worker holds."""

    def __init__(self, job: ClaimedJob) -> None:
        self.job = job
        self.token = job.lease_token
        self.interval = min(max(job.lease_seconds / 3.0, 0.05), MAX_INTERVAL)
        now = time.monotonic()
        self.next_beat = now + self.interval
        self.expires = now + job.lease_seconds  # on our clock; moved on by each heartbeat
        self.deadline = _monotonic_deadline(job)
        self.stop_reason: StopReason | None = None
        self.progress: dict[str, Any] | None = None
        self.progress_sent = True
        self.last_sent = now
        self.beating = False
        self.finished = False  # see finish()
        self._on_stop: list[Callable[[StopReason], None]] = []

    def on_stop(self, callback: Callable[[StopReason], None]) -> None:
        """Call `callback` when the job must stop (at once if it already must)."""
        self._on_stop.append(callback)
        if self.stop_reason is not None:
            callback(self.stop_reason)

    def finish(self) -> None:
        """The job's work ended: a later stop request changes nothing. Its stop callbacks are
        dropped: they hold the job's task and context, which hold this lease, and that cycle
        would leave each job's objects (~20) to the garbage collector instead of freeing
        them at once (measured: collections a tenth of a worker's CPU per no-op job)."""
        self.finished = True
        self._on_stop.clear()

    def stop(self, reason: StopReason) -> None:
        if self.stop_reason is not None or self.finished:
            return
        self.stop_reason = reason
        for callback in self._on_stop:
            callback(reason)

    def set_progress(self, progress: dict[str, Any]) -> None:
        self.progress = progress
        self.progress_sent = False

    def due(self, now: float) -> float:
        """When this lease next needs the loop's attention (monotonic seconds)."""
        at = self.next_beat
        if not self.progress_sent:
            at = min(at, self.last_sent + PROGRESS_EVERY)
        if self.deadline is not None:
            at = min(at, self.deadline)
        return at


def _monotonic_deadline(job: ClaimedJob) -> float | None:
    if job.deadline_at is None:
        return None
    return time.monotonic() + (job.deadline_at.timestamp() - time.time())


class Heartbeats:
    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.leases: set[Lease] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._beats: set[asyncio.Task[None]] = set()

    def add(self, lease: Lease) -> None:
        self.leases.add(lease)
        self.poke()

    def remove(self, lease: Lease) -> None:
        self.leases.discard(lease)

    def poke(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
        for beat in list(self._beats):
            beat.cancel()
        await asyncio.gather(*self._beats, return_exceptions=True)

    async def beat(self, lease: Lease) -> None:
        """Renew one lease now (sending pending progress); stops the job if the server says."""
        progress = None if lease.progress_sent else lease.progress
        sent = time.monotonic()
        lease.progress_sent, lease.last_sent = True, sent
        try:
            answer = await self.client.heartbeat(lease.job.id, lease.token, progress)
        except (Conflict, NotFound) as exc:
            log.warning("job %s is no longer ours (%s): stopping it", lease.job.id, exc.code)
            lease.stop(StopReason.lost)
        except (Unauthorized, Forbidden) as exc:
            self._refused(lease, exc, progress)
        except (TransportError, ServerError) as exc:
            log.warning("heartbeat of job %s failed: %s", lease.job.id, exc)
            if progress is not None:
                lease.progress_sent = False
            lease.next_beat = time.monotonic() + min(lease.interval, RETRY_AFTER)
        else:
            lease.expires = sent + lease.job.lease_seconds
            lease.next_beat = time.monotonic() + lease.interval
            if answer.cancel_requested:
                log.info("job %s: cancel requested, stopping it", lease.job.id)
                lease.stop(StopReason.cancel)
        finally:
            lease.beating = False
            self.poke()

    def _refused(self, lease: Lease, exc: ServerError, progress: dict[str, Any] | None) -> None:
        """A heartbeat the server refused (401, 403): keep the job while its lease may still
        run (the refusal may end), then stop it without a word, like a lost lease."""
        now = time.monotonic()
        if now >= lease.expires:
            log.warning(
                "job %s: its lease ran out while the server refused this worker (%s): "
                "stopping it; the server gives it another attempt",
                lease.job.id,
                exc.status,
            )
            lease.stop(StopReason.lost)
            return
        if progress is not None:
            lease.progress_sent = False
        lease.next_beat = now + min(lease.interval, RETRY_AFTER)

    async def _run(self) -> None:
        while True:
            now = time.monotonic()
            wake_at = now + 60.0
            for lease in list(self.leases):
                if lease.stop_reason is None and not lease.beating:
                    self._attend(lease, now)
                if lease.stop_reason is None and not lease.beating:
                    wake_at = min(wake_at, lease.due(now))
            self._wake.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(wake_at - now, 0.01))

    def _attend(self, lease: Lease, now: float) -> None:
        if lease.deadline is not None and now >= lease.deadline:
            log.info("job %s ran past its deadline: stopping it", lease.job.id)
            lease.stop(StopReason.deadline)
        elif now >= lease.next_beat or (
            not lease.progress_sent and now >= lease.last_sent + PROGRESS_EVERY
        ):
            lease.beating = True
            task = asyncio.create_task(self.beat(lease))
            self._beats.add(task)
            task.add_done_callback(self._beats.discard)
