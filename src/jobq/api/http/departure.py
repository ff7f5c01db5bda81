"""Whether an HTTP client has left, known without waiting; and the long-polling claim that
uses it on every interface.

A long-polling claim hands jobs only to a claimer still there (`Engine.claim`'s `gone`).
Starlette's `Request.is_disconnected` finds out by reading the connection under a cancelled
scope: two turns of the event loop, between an enqueue's commit and the claimer's answer
(measured after a quiet spell: ~200 us of the pick-up's ~2.8 ms). `Departure` instead reads
the connection's next message in a task started with the request: once the body is read, the
next message is the disconnect (or the end of the response), so the client has gone exactly
when that read has finished. A body the route did not read (Accepted's `POST /want_job` has
none) is read past first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

from starlette.types import Message, Receive

from jobq.api.http.standing import Standing
from jobq.engine import Engine
from jobq.model import ClaimSpec, Job


class Departure:
    """`with Departure(receive, watch) as departure:` then `await departure.gone()`; with
    `watch` false (a claim that will not wait) nothing is read and the client never gone."""

    def __init__(self, receive: Receive, watch: bool = True) -> None:
        self._receive = receive
        self._watch = watch
        self._next: asyncio.Future[Any] | None = None

    def __enter__(self) -> Departure:
        if self._watch:
            self._next = asyncio.ensure_future(_past_the_body(self._receive))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._next is not None:
            self._next.cancel()

    async def gone(self) -> bool:
        """Whether the client has disconnected (never suspends)."""
        read = self._next
        if read is None or not read.done() or read.cancelled() or read.exception() is not None:
            return False
        message = read.result()
        return isinstance(message, dict) and message.get("type") == "http.disconnect"


async def _past_the_body(receive: Receive) -> Message:
    """The connection's first message after the request body (whatever of it is unread)."""
    while True:
        message = await receive()
        if message.get("type") != "http.request":
            return message


async def claim_while_there(
    receive: Receive,
    engine: Engine,
    spec: ClaimSpec,
    wait: float,
    caller: Standing | None = None,
) -> list[Job]:
    """`engine.claim(spec, wait)` for an HTTP claimer: no job is handed to one that has hung
    up while it waited, nor (with `caller`) to one whose key or right to work was revoked
    meanwhile: its jobs go back and the refusal is raised."""
    with Departure(receive, wait > 0) as departure:
        gone = departure.gone if caller is None else _either(departure.gone, caller)
        jobs = await engine.claim(spec, wait, gone=gone)
    if caller is not None and wait > 0:
        try:
            await caller.confirm()
        except BaseException:
            await engine.give_back(jobs)
            raise
    return jobs


def _either(
    departed: Callable[[], Awaitable[bool]], caller: Standing
) -> Callable[[], Awaitable[bool]]:
    async def gone() -> bool:
        return await departed() or not await caller.holds()

    return gone
