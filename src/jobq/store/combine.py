"""Acknowledge-and-claim requests that arrive together, run as one transaction.

On PostgreSQL a worker's request (store its outcomes, claim the next jobs) is a transaction of
its own: a lock of the acknowledged rows, an UPDATE per kind of change, the claim, COMMIT,
each statement costing PostgreSQL's backend about a millisecond of CPU under load. With many
requests in flight, `Combiner` runs at most IN_FLIGHT such transactions at once per server;
the requests that arrive meanwhile wait and then go together: their steps are decided and
written as one batch (in arrival order), and the claims of one shape (queues, types, lease,
worker) become one claim of their summed limit, its jobs dealt out best first in arrival
order. A lone request runs at once, without waiting.

If a combined run fails (other than the store being unavailable, which would fail each alone
too), each request runs again alone, so one request's error stays its own. A request whose
caller went away meanwhile still had its jobs claimed: they return to their queue when their
lease ends, as a worker's that died would.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any

from jobq.errors import StoreUnavailable
from jobq.model import ClaimSpec, Job, Step, StepResult

log = logging.getLogger("jobq.store")
IN_FLIGHT = 2  # combined transactions at once per server
Outcome = tuple[list[StepResult], list[Job]]


@dataclass(frozen=True, slots=True)
class Request:
    """One acknowledge-and-claim (no steps: a plain claim)."""

    steps: Sequence[Step]
    spec: ClaimSpec
    lease_key: str
    now: float
    touch: bool  # record the worker as seen


class Combiner:
    def __init__(
        self,
        run_one: Callable[[Request], Awaitable[Outcome]],
        run_all: Callable[[Sequence[Request]], Awaitable[list[Outcome]]],
        in_flight: int = IN_FLIGHT,
    ) -> None:
        self._run_one = run_one
        self._run_all = run_all
        self._in_flight = in_flight
        self._running = 0
        self._pending: list[tuple[Request, asyncio.Future[Outcome]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, request: Request) -> Outcome:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._pending.append((request, future))
        if self._running < self._in_flight:
            self._launch()
        return await future

    def _launch(self) -> None:
        batch, self._pending = self._pending, []
        self._running += 1
        task = asyncio.create_task(self._settle(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _settle(self, batch: list[tuple[Request, asyncio.Future[Outcome]]]) -> None:
        try:
            outcomes = await self._outcomes([request for request, _ in batch])
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
        except BaseException as exc:  # cancelled (shutdown): nobody is left unanswered
            for _, future in batch:
                if future.done():
                    continue
                if isinstance(exc, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(exc)
            raise
        finally:
            self._running -= 1
            if self._pending and self._running < self._in_flight:
                self._launch()

    async def _outcomes(self, requests: list[Request]) -> list[Outcome | BaseException]:
        if len(requests) > 1:
            try:
                return list(await self._run_all(requests))
            except StoreUnavailable as exc:
                return [exc] * len(requests)
            except Exception as exc:  # each request alone says what is wrong with it
                log.warning("%d requests failed together (%r): each runs alone", len(requests), exc)
        alone = [self._run_one(r) for r in requests]
        return list(await asyncio.gather(*alone, return_exceptions=True))


async def together(
    requests: Sequence[Request],
    transition: Callable[[Sequence[Step], float], Awaitable[list[StepResult]]],
    claim: Callable[[ClaimSpec, str, bool, float], Awaitable[list[Job]]],
) -> list[Outcome]:
    """Run `requests` as one: every step in one `transition`, one `claim` per shape (its spec,
    lease key, whether it records its worker, the time), its jobs dealt out; each request's
    outcome. The store calls this inside its transaction."""
    now = max(r.now for r in requests)
    steps = [step for r in requests for step in r.steps]
    results = iter(await transition(steps, now) if steps else [])
    acked = [[next(results) for _ in r.steps] for r in requests]
    claimed: list[list[Job]] = [[] for _ in requests]
    for spec, touch, members in claim_groups(requests):
        jobs = await claim(spec, requests[members[0]].lease_key, touch, now)
        deal(requests, members, jobs, claimed)
    return list(zip(acked, claimed, strict=True))


def claim_groups(requests: Sequence[Request]) -> list[tuple[ClaimSpec, bool, list[int]]]:
    """One claim per shape: its spec with the summed limit, whether it records its worker,
    and the indexes of the requests it serves. Claims of named jobs stand alone."""
    shapes: dict[Any, list[int]] = {}
    for i, r in enumerate(requests):
        s = r.spec
        key = (
            (i,)
            if s.ids is not None
            else (
                None if s.queues is None else tuple(s.queues),
                None if s.types is None else tuple(s.types),
                s.lease_seconds,
                s.worker.name,
                s.worker.host,
                s.worker.pid,
            )
        )
        shapes.setdefault(key, []).append(i)
    groups = []
    for members in shapes.values():
        limit = sum(requests[i].spec.limit for i in members)
        touch = any(requests[i].touch for i in members)
        groups.append((replace(requests[members[0]].spec, limit=limit), touch, members))
    return groups


def deal(
    requests: Sequence[Request], members: list[int], jobs: Sequence[Job], into: list[list[Job]]
) -> None:
    """Hand `jobs` (best first) to the `members` in order, each up to its own limit."""
    left = iter(jobs)
    for i in members:
        into[i] = list(islice(left, requests[i].spec.limit))
