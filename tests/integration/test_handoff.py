"""Parked claims (jobq.handoff): an enqueue claims for a waiting claim in its own transaction.

Over both stores. A spy on the store counts its claims: a handed job needs none after the
first (empty) try, where a woken claim would claim again.
"""

from __future__ import annotations

import asyncio
from typing import Any

from jobq.engine import Engine, JobSpec
from jobq.model import ClaimSpec, Worker
from jobq.states import State

WAIT = 20.0


def spec(*queues: str, types: list[str] | None = None, limit: int = 1) -> ClaimSpec:
    return ClaimSpec(list(queues) or ["q"], types, limit, None, Worker("w", "h", 1))


def count_claims(engine: Engine) -> list[int]:
    """A counter of the store's own claims (as opposed to claims in an enqueue's transaction)."""
    counted = [0]
    store: Any = engine.store
    original = store.claim

    async def claim(*args: Any, **kwargs: Any) -> Any:
        counted[0] += 1
        return await original(*args, **kwargs)

    store.claim = claim
    return counted


async def parked(engine: Engine, n: int) -> None:
    """Until `n` claims are parked."""
    for _ in range(2000):
        if len(engine.parking) == n:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"{len(engine.parking)} claims parked, not {n}")


def enqueue(engine: Engine, **job: Any) -> Any:
    return engine.enqueue([JobSpec(**{"queue": "q", **job})])


async def test_a_waiting_claim_gets_a_new_job_in_the_enqueues_transaction(engine: Engine):
    claims = count_claims(engine)
    waiting = asyncio.create_task(engine.claim(spec(), wait=WAIT))
    await parked(engine, 1)
    [(job, created)] = await enqueue(engine)
    [held] = await asyncio.wait_for(waiting, WAIT)
    assert created and job.state is State.queued  # the producer sees what it enqueued
    assert held.id == job.id and held.state is State.running and held.attempt == 1
    assert claims == [1]  # the first, empty try; the job came with the enqueue
    stored = await engine.get(job.id)
    assert stored.state is State.running and stored.lease_token == held.lease_token
    assert [a.attempt for a in await engine.attempts(job.id)] == [1]
    assert len(engine.parking) == 0


async def test_a_parked_claim_is_taken_only_for_jobs_it_wants(engine: Engine):
    waiting = asyncio.create_task(engine.claim(spec(types=["wanted"]), wait=WAIT))
    await parked(engine, 1)
    await enqueue(engine, type="other")
    await enqueue(engine, queue="elsewhere", type="wanted")
    await enqueue(engine, type="later", delay=60)  # scheduled, not queued
    await parked(engine, 1)  # (woken by the new jobs, it claimed nothing and parked again)
    assert not waiting.done()
    [(job, _)] = await enqueue(engine, type="wanted")
    [held] = await asyncio.wait_for(waiting, WAIT)
    assert held.id == job.id


async def test_one_new_job_goes_to_the_oldest_parked_claim(engine: Engine):
    first = asyncio.create_task(engine.claim(spec(), wait=WAIT))
    await parked(engine, 1)
    second = asyncio.create_task(engine.claim(spec(), wait=WAIT))
    await parked(engine, 2)
    [(a, _)] = await enqueue(engine)
    assert [j.id for j in await asyncio.wait_for(first, WAIT)] == [a.id]
    await parked(engine, 1)
    assert not second.done()
    [(b, _)] = await enqueue(engine)
    assert [j.id for j in await asyncio.wait_for(second, WAIT)] == [b.id]


async def test_a_claim_handed_nothing_waits_on(engine: Engine):
    await engine.pause("q")
    waiting = asyncio.create_task(engine.claim(spec(), wait=WAIT))
    await parked(engine, 1)
    [(job, _)] = await enqueue(engine)  # taken, but a paused queue gives nothing
    await parked(engine, 1)  # parked again
    assert not waiting.done()
    await engine.resume("q")
    [held] = await asyncio.wait_for(waiting, WAIT)
    assert held.id == job.id


async def test_a_claimer_that_left_gets_nothing_and_the_job_stays_queued(engine: Engine):
    left = asyncio.Event()

    async def gone() -> bool:
        return left.is_set()

    waiting = asyncio.create_task(engine.claim(spec(), wait=WAIT, gone=gone))
    await parked(engine, 1)
    left.set()  # the worker hung up while it waited
    [(job, _)] = await enqueue(engine)
    assert await asyncio.wait_for(waiting, WAIT) == []
    stored = await engine.get(job.id)
    assert stored.state is State.queued and stored.attempt == 0  # given back, not counted
    assert len(engine.parking) == 0


async def test_a_claim_cancelled_while_an_enqueue_claims_for_it_gives_the_job_back(
    engine: Engine,
):
    waiting = asyncio.create_task(engine.claim(spec(), wait=WAIT))
    await parked(engine, 1)
    enqueuing = asyncio.create_task(enqueue(engine))
    await asyncio.sleep(0)  # the enqueue took the parked claim; its transaction is in flight
    waiting.cancel()
    [(job, _)] = await asyncio.wait_for(enqueuing, WAIT)
    assert waiting.cancelled()
    stored = await engine.get(job.id)
    assert stored.state is State.queued and stored.attempt == 0
    assert len(engine.parking) == 0
