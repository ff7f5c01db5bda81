"""Background duties of `jobq serve`: due jobs, expired leases and deadlines, purge, callbacks,
operations whose runner stopped, and forgetting workers not seen for a day and operations
finished a week ago (once an hour).

Timer-driven: after each round the loop sleeps until the store's next due time, or until the
engine reports an earlier one (a new lease, a backoff, a scheduled job). `max_sleep` bounds the
sleep only so that, with several servers on one database, a time set by another node is seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from jobq.engine import Engine, operations
from jobq.engine.callbacks import CallbackSender
from jobq.errors import StoreUnavailable

log = logging.getLogger("jobq.duties")
WORKER_MEMORY = 86400.0  # seconds a worker not seen since is still listed (GET /workers)
FORGET_EVERY = 3600.0  # seconds between two sweeps of the workers no longer seen


class Duties:
    def __init__(self, engine: Engine, callbacks: CallbackSender, max_sleep: float = 30.0) -> None:
        self.engine = engine
        self.callbacks = callbacks
        self.max_sleep = max_sleep
        self._wake = asyncio.Event()
        self._next = float("inf")
        self._task: asyncio.Task[None] | None = None
        self._forget_at = float("-inf")  # the next sweep of workers long gone
        engine.on_timer = self.at
        callbacks.on_free = lambda: self.at(engine.clock())  # a delivery slot opened

    def at(self, when: float) -> None:
        """Something is due at `when`: wake earlier than planned if need be."""
        if when < self._next:
            self._next = when
            self._wake.set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="jobq-duties")

    async def stop(self) -> None:
        task = self._task
        # cancel until it is done: Python 3.11's wait_for can swallow a cancellation that
        # arrives just as the wait it guards ends (the loop would then sleep on)
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=1.0)
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        await self.engine.runner.stop()  # their operations resume after a restart
        await self.callbacks.close()

    async def run_once(self) -> float | None:
        """Do everything due now; the time of the next due work.

        Each duty runs on its own: one that fails is logged and retried in a second, and the
        others still run (a poisoned row fails alone inside the engine, see
        `Engine._transition_isolated`)."""
        now = self.engine.clock()
        failed = [
            name
            for name, duty in (
                ("due jobs and expired leases", self._moves),
                ("purge", self._purge),
                ("forgetting workers", self._forget),
                ("callbacks", self._callbacks),
                ("operations", self._operations),
            )
            if not await self._isolated(name, duty, now)
        ]
        due = await self.engine.store.next_due()
        if failed:
            retry = now + 1.0
            return retry if due is None else min(due, retry)
        return due

    async def _isolated(
        self, name: str, duty: Callable[[float], Awaitable[None]], now: float
    ) -> bool:
        """Run one duty; whether it succeeded (a store that is down pauses it quietly)."""
        try:
            await duty(now)
        except StoreUnavailable as exc:
            log.warning("background duty %s paused: %s", name, exc.message)
            return False
        except Exception:
            log.exception("background duty %s failed; the others go on, retrying in 1s", name)
            return False
        return True

    async def _moves(self, now: float) -> None:
        while await self.engine.promote_due(now) or await self.engine.expire_overdue(now):
            pass

    async def _purge(self, now: float) -> None:
        while await self.engine.store.purge(now, 1000):
            pass

    async def _forget(self, now: float) -> None:
        if now >= self._forget_at:
            await self.engine.store.forget_workers(now - WORKER_MEMORY)
            await self.engine.operation_store.forget(now - operations.KEEP)
            self._forget_at = now + FORGET_EVERY

    async def _operations(self, now: float) -> None:
        """Take over the operations whose runner stopped (a node died, a restart)."""
        again = await self.engine.resume_operations(now)
        if again is not None:
            self.at(max(again, now + 0.05))

    async def _callbacks(self, now: float) -> None:
        """Start the deliveries due now; they run beside the loop (`CallbackSender`), so a
        slow receiver delays neither lease expiry nor another tenant's callback."""
        await self.callbacks.send_due(now)

    async def _loop(self) -> None:
        while True:
            self._next = float("inf")
            try:
                due = await self.run_once()
            except StoreUnavailable as exc:
                log.warning("background duties paused: %s", exc.message)
                due = self.engine.clock() + 1.0
            except Exception:
                log.exception("background duties failed; retrying in 1s")
                due = self.engine.clock() + 1.0
            self.at(due if due is not None else float("inf"))
            await self._sleep(self.engine.clock() + self.max_sleep)

    async def _sleep(self, latest: float) -> None:
        """Sleep until the next due time (`self._next`, moved earlier by `at`) or `latest`.

        An earlier time only shortens the sleep: a claim's new lease must not cost a whole
        round of store reads now, when all it changes is when the next round is due."""
        while (wake_at := min(self._next, latest)) > (now := self.engine.clock()):
            self._wake.clear()
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel that
            # arrives as the wake-up fires, and stop() then waits forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wake_at - now):
                    await self._wake.wait()
