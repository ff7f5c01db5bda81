"""Batching for the worker's writes: acknowledgements and log lines go out in groups.

A `Batcher` collects items and sends them in one request when `max_batch` are waiting or
`linger` seconds after the first one arrived, one request in flight at a time so the server
sees them in the order they were put. A failed send is retried while the server is
unreachable or unavailable, then given up (the lease running out recovers the job). A send
the server refuses for the worker's key (401, 403) is retried every AUTH_RETRY seconds while
`retry_refused(batch)` says it is still worth it, and given up otherwise.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Generic, TypeVar

from jobq.client.errors import (
    ClientError,
    Forbidden,
    ServerUnavailable,
    TransportError,
    Unauthorized,
)

T = TypeVar("T")
log = logging.getLogger("jobq.worker")
RETRY_DELAYS = (0.1, 0.5, 1.0, 2.0, 4.0, 8.0)
AUTH_RETRY = 5.0


class Batcher(Generic[T]):
    def __init__(
        self,
        send: Callable[[list[T]], Awaitable[None]],
        max_batch: int,
        linger: float,
        max_pending: int | None = None,
        what: str = "batch",
        retry_refused: Callable[[list[T]], bool] | None = None,
    ) -> None:
        self._send = send
        self.max_batch = max(1, max_batch)
        self.linger = linger
        self.max_pending = max_pending or 20 * self.max_batch
        self.what = what
        self.retry_refused = retry_refused
        self._items: list[T] = []
        self._wake = asyncio.Event()
        self._hurry = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    def put(self, item: T) -> None:
        self._items.append(item)
        self._kick()
        if len(self._items) >= self.max_batch:
            self._hurry.set()
        if len(self._items) >= self.max_pending:
            self._room.clear()

    def take(self) -> list[T]:
        """Everything pending, for a caller that sends it another way (a claim carrying
        acknowledgements); `give_back` returns what it could not send."""
        items, self._items = self._items[: self.max_batch], self._items[self.max_batch :]
        if len(self._items) < self.max_pending:
            self._room.set()
        return items

    def give_back(self, items: list[T], *, now: bool = False) -> None:
        """Return items `take` took; `now`: send them at once rather than after the linger."""
        if items:
            self._items[:0] = items
            self._kick()
            if now:
                self._hurry.set()

    def _kick(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        self._wake.set()

    async def room(self) -> None:
        """Wait while too many items are pending (back-pressure for fast producers)."""
        await self._room.wait()

    async def close(self) -> None:
        """Send everything still pending, then stop."""
        self._closing = True
        self._wake.set()
        self._hurry.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._hurry.is_set():
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._hurry.wait(), self.linger)
            while self._items:
                batch = self._items[: self.max_batch]
                del self._items[: self.max_batch]
                if len(self._items) < self.max_pending:
                    self._room.set()
                await self._deliver(batch)
            if not self._closing:
                self._hurry.clear()
            elif not self._items:
                return

    async def _deliver(self, batch: list[T]) -> None:
        delays = iter(RETRY_DELAYS)
        while True:
            try:
                await self._send(batch)
                return
            except (TransportError, ServerUnavailable) as exc:
                delay = next(delays, None)
                if delay is None:
                    log.error("giving up on a %s of %d: %s", self.what, len(batch), exc)
                    return
            except (Unauthorized, Forbidden) as exc:
                if self.retry_refused is None or not self.retry_refused(batch):
                    log.error("the server refused a %s of %d: %s", self.what, len(batch), exc)
                    return
                log.warning(
                    "the server refused a %s of %d (%s): retrying in %g s",
                    self.what,
                    len(batch),
                    exc.status,
                    AUTH_RETRY,
                )
                delay = AUTH_RETRY
            except ClientError as exc:
                log.error("the server refused a %s of %d: %s", self.what, len(batch), exc)
                return
            except Exception:
                log.exception("could not send a %s of %d", self.what, len(batch))
                return
            await asyncio.sleep(delay)
