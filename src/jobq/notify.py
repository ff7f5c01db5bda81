"""Wake-ups for waiters: long-poll claims, result waits, log tails, event streams.

Channels:
    queue:NAME  work became available in NAME; the message is how many jobs, and that many
                waiting claimers are woken, oldest waiter first (not all of them)
    job:ID      the job changed in a way a waiter cares about (finished, cancel requested)
    logs:ID     log lines were appended
    events      every transition, as a dict (id, queue, from, to, at)

`Notifier` delivers within this process. The PostgreSQL notifier subclasses it and sends each
publication through LISTEN/NOTIFY, so waiters on every node are woken; delivery to local
listeners always goes through `deliver`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

EVENT_BACKLOG = 10_000  # events kept for one slow event-stream reader before the oldest drop
WIDE = 64  # queue channels a listener is filed under one by one; more are held as one set
QUEUE = "queue:"


class Listener:
    """One waiter's mailbox on one or more channels."""

    def __init__(self) -> None:
        self._wake = asyncio.Event()
        self._on_wake: Callable[[], None] | None = None
        self.messages: deque[Any] = deque(maxlen=EVENT_BACKLOG)
        self.dropped = 0

    def push(self, message: Any) -> None:
        if len(self.messages) == self.messages.maxlen:
            self.dropped += 1
        self.messages.append(message)
        self.poke()

    @property
    def woken(self) -> bool:
        return self._wake.is_set()

    def poke(self) -> None:
        self._wake.set()
        if self._on_wake is not None:
            self._on_wake()

    @contextmanager
    def calling(self, on_wake: Callable[[], None]) -> Iterator[None]:
        """While the block runs, a wake-up also calls `on_wake` (at once if one came before
        the block); the wake-up is cleared when the block ends. For a waiter that waits on a
        future of its own (a parked claim) instead of `wait`."""
        self._on_wake = on_wake
        try:
            if self._wake.is_set():
                on_wake()
            yield
        finally:
            self._on_wake = None
            self._wake.clear()

    async def wait(self, timeout: float | None) -> bool:
        """Wait until woken or `timeout`; True if woken. Clears the wake-up."""
        if not self._wake.is_set():
            try:
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                return False
        self._wake.clear()
        return True

    def drain(self) -> list[Any]:
        items = list(self.messages)
        self.messages.clear()
        return items


class Notifier:
    """In-process wake-ups (the SQLite default: one server process)."""

    def __init__(self) -> None:
        self._channels: dict[str, list[Listener]] = {}
        # listeners of many queues (a claim from any queue of thousands): their queue names
        # as one set each, so listening costs no more than the set, and a publication tests
        # each of these few sets once
        self._wide: list[tuple[frozenset[str], Listener]] = []
        # listeners of every queue (an administrator's claim of "any queue"): woken by work in
        # any queue, a queue made while they wait too; they hold no names at all
        self._every: list[Listener] = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    @contextmanager
    def listen(
        self, channels: Iterable[str], queues: Collection[str] | None = ()
    ) -> Iterator[Listener]:
        """A listener of `channels` and of the `queue:NAME` channel of each of `queues`
        (None: of every queue's)."""
        listener = Listener()
        names = list(channels)
        every = queues is None
        wide = queues is not None and len(queues) > WIDE
        if every:
            self._every.append(listener)
        elif wide:
            self._wide.append((frozenset(queues or ()), listener))
        else:
            names += [f"{QUEUE}{q}" for q in queues or ()]
        for name in names:
            self._channels.setdefault(name, []).append(listener)
        try:
            yield listener
        finally:
            if every:
                self._every.remove(listener)
            if wide:
                self._wide = [w for w in self._wide if w[1] is not listener]
            for name in names:
                waiting = self._channels.get(name)
                if waiting is not None:
                    waiting.remove(listener)
                    if not waiting:
                        del self._channels[name]

    def waiting(self, prefix: str) -> int:
        """How many listeners wait on channels starting with `prefix` (each counted once)."""
        found = {
            id(li) for name, lis in self._channels.items() if name.startswith(prefix) for li in lis
        }
        found |= {
            id(li) for qs, li in self._wide if any(f"{QUEUE}{q}".startswith(prefix) for q in qs)
        }
        if QUEUE.startswith(prefix) or prefix.startswith(QUEUE):
            found |= {id(li) for li in self._every}
        return len(found)

    def has_listeners(self, channel: str) -> bool:
        if channel in self._channels:
            return True
        if not channel.startswith(QUEUE):
            return False
        queue = channel[len(QUEUE) :]
        return bool(self._every) or any(queue in qs for qs, _ in self._wide)

    def _listeners(self, channel: str) -> list[Listener]:
        """Who listens on `channel`: those filed under it, then the wide ones that hold it,
        then those of every queue."""
        listeners = self._channels.get(channel) or []
        if (self._wide or self._every) and channel.startswith(QUEUE):
            queue = channel[len(QUEUE) :]
            wide = (li for qs, li in self._wide if queue in qs)
            listeners = [*listeners, *wide, *self._every]
        return listeners

    def publish(self, channel: str, message: Any = None) -> None:
        """Announce on `channel`; subclasses carry it to other processes as well."""
        self.deliver(channel, message)

    def work_available(self, queue: str, count: int = 1) -> None:
        self.publish(f"queue:{queue}", count)

    def deliver(self, channel: str, message: Any) -> None:
        """Wake this process's listeners of `channel`."""
        listeners = self._listeners(channel)
        if not listeners:
            return
        if channel.startswith("queue:"):
            self._wake_some(listeners, int(message or 1))
        else:
            for listener in list(listeners):
                listener.push(message)

    @staticmethod
    def _wake_some(listeners: list[Listener], count: int) -> None:
        for listener in listeners:
            if count <= 0:
                return
            if not listener.woken:
                listener.poke()
                count -= 1
