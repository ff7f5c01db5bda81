"""Wake-ups across nodes through PostgreSQL LISTEN/NOTIFY.

`publish` wakes this node's listeners at once and queues the message for the other nodes; a
sender task packs everything queued into as few NOTIFY payloads as fit (8000 bytes each, JSON
`{"node": ..., "m": [[channel, message], ...]}`) and sends them in one round trip, so a burst of
transitions costs a handful of notifications. Work counts for one queue are summed on the way.

A dedicated connection LISTENs on the `jobq` channel and delivers every other node's messages
(its own were delivered when published). If that connection is lost it is re-established, and
every local waiter is woken once so it re-reads the state it may have missed.

The `events` channel (every transition) is sent only while some node has an event-stream
reader: such a node announces its interest now and then, and the others remember it a while.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from jobq.errors import StoreUnavailable
from jobq.notify import Listener, Notifier
from jobq.store.postgres.conn import Conn, Database

log = logging.getLogger("jobq.notify")

PG_CHANNEL = "jobq"
MAX_PAYLOAD = 7900  # PostgreSQL's limit is 8000 bytes
INTEREST = "~interest"  # control channel: "some node streams events"
INTEREST_EVERY = 10.0
INTEREST_TTL = 30.0
CHECK_EVERY = 5.0  # how often the LISTEN connection is checked


class PostgresNotifier(Notifier):
    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db
        self.node = os.urandom(8).hex()
        self._outbox: list[tuple[str, Any]] = []
        self._pending = asyncio.Event()
        self._lost = asyncio.Event()
        self._events_wanted_until = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self._conn: Conn | None = None
        self.connected = asyncio.Event()

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._send_loop(), name="jobq-notify-send"),
            asyncio.create_task(self._listen_loop(), name="jobq-notify-listen"),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connected.wait(), 10)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._close_conn()

    # --- publishing ---

    def publish(self, channel: str, message: Any = None) -> None:
        self.deliver(channel, message)
        self._outbox.append((channel, message))
        self._pending.set()

    def has_listeners(self, channel: str) -> bool:
        if channel == "events" and time.monotonic() < self._events_wanted_until:
            return True
        return super().has_listeners(channel)

    @contextmanager
    def listen(
        self, channels: Iterable[str], queues: Collection[str] | None = ()
    ) -> Iterator[Listener]:
        names = list(channels)
        with super().listen(names, queues) as listener:
            if "events" in names:
                self._announce_interest()
            yield listener

    def _announce_interest(self) -> None:
        self._outbox.append((INTEREST, "events"))
        self._pending.set()

    async def _send_loop(self) -> None:
        last_interest = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._pending.wait(), INTEREST_EVERY)
            self._pending.clear()
            if time.monotonic() - last_interest >= INTEREST_EVERY:
                last_interest = time.monotonic()
                if super().has_listeners("events"):
                    self._announce_interest()
            batch, self._outbox = self._outbox, []
            if batch:
                await self._send(batch)

    async def _send(self, batch: list[tuple[str, Any]]) -> None:
        payloads = pack(self.node, coalesce(batch))
        try:
            await self.db.once(lambda c: _notify(c, payloads))
        except StoreUnavailable as exc:
            log.warning("wake-ups for other nodes dropped: %s", exc.message)

    # --- listening ---

    async def _listen_loop(self) -> None:
        while True:
            try:
                await self._listen_once()
            except (StoreUnavailable, OSError, TimeoutError) as exc:
                log.warning("LISTEN connection unavailable (%s); retrying", exc)
            except Exception:
                log.exception("LISTEN connection failed; retrying")
            self.connected.clear()
            await self._close_conn()
            await asyncio.sleep(1.0)

    async def _listen_once(self) -> None:
        self._lost.clear()
        conn = await self.db.connect()
        self._conn = conn
        conn.add_termination_listener(lambda _c: self._lost.set())
        await conn.add_listener(PG_CHANNEL, self._on_notify)
        self.connected.set()
        self._wake_everyone()  # messages sent while we were not listening are lost
        while not self._lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), CHECK_EVERY)
            if not self._lost.is_set():
                await asyncio.wait_for(conn.fetchval("SELECT 1"), CHECK_EVERY)
        raise StoreUnavailable("the LISTEN connection was closed")

    async def _close_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 5)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            log.warning("ignored a malformed notification")
            return
        if data.get("node") == self.node:
            return
        for channel, message in data.get("m", []):
            if channel == INTEREST:
                self._events_wanted_until = time.monotonic() + INTEREST_TTL
            else:
                self.deliver(channel, message)

    def _wake_everyone(self) -> None:
        for listeners in list(self._channels.values()):
            for listener in listeners:
                listener.poke()
        for _, listener in list(self._wide):
            listener.poke()


async def _notify(c: Conn, payloads: list[str]) -> None:
    """One statement in its own transaction: one round trip (not four, with BEGIN, a
    `SET LOCAL synchronous_commit` and COMMIT). A transaction that only notifies writes no WAL
    but its commit record, whose flush PostgreSQL does not wait for anyway (checked with
    pg_stat_wal: no WAL sync per notification either way)."""
    await c.execute("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", PG_CHANNEL, payloads)


def coalesce(batch: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The batch with the work counts of each queue summed into one message."""
    counts: dict[str, int] = {}
    out: list[tuple[str, Any]] = []
    for channel, message in batch:
        if channel.startswith("queue:"):
            if channel not in counts:
                out.append((channel, None))
            counts[channel] = counts.get(channel, 0) + int(message or 1)
        else:
            out.append((channel, message))
    return [(ch, counts.get(ch, msg)) for ch, msg in out]


def pack(node: str, messages: list[tuple[str, Any]]) -> list[str]:
    """JSON payloads of at most MAX_PAYLOAD bytes carrying `messages` in order."""
    head = len(orjson.dumps({"node": node, "m": []}))
    payloads: list[str] = []
    current: list[bytes] = []
    size = head
    for channel, message in messages:
        item = orjson.dumps([channel, message])
        if head + len(item) > MAX_PAYLOAD:
            log.warning("a wake-up on %s is too large for NOTIFY; dropped", channel)
            continue
        if size + len(item) + 1 > MAX_PAYLOAD and current:
            payloads.append(_payload(node, current))
            current, size = [], head
        current.append(item)
        size += len(item) + 1
    if current:
        payloads.append(_payload(node, current))
    return payloads


def _payload(node: str, items: list[bytes]) -> str:
    return f'{{"node":"{node}","m":[{",".join(i.decode() for i in items)}]}}'
