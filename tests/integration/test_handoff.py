"""Parked claims (jobq.handoff): an enqueue claims for a waiting claim in its own transaction.

Over both stores, by what the claimer and the producer see and what is stored.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from jobq.engine import Engine, JobSpec
from jobq.model import ClaimSpec, QueueChange, Worker
from jobq.states import State

WAIT = 20.0


def spec(*queues: str, types: list[str] | None = None, limit: int = 1) -> ClaimSpec:
    return ClaimSpec(list(queues) or ["q"], types, limit, None, Worker("w", "h", 1))


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
    waiting = asyncio.create_task(engine.claim(spec(), wait=WAIT))
    await parked(engine, 1)
    [(job, created)] = await enqueue(engine)
    [held] = await asyncio.wait_for(waiting, WAIT)
    assert created and job.state is State.queued  # the producer sees what it enqueued
    assert held.id == job.id and held.state is State.running and held.attempt == 1
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


async def test_the_claimer_is_answered_before_the_producer(engine: Engine):
    """A worker waits for its job; the producer's answer comes one turn of the loop later."""
    finished: list[str] = []
    waiting = asyncio.create_task(engine.claim(spec(), wait=WAIT))
    waiting.add_done_callback(lambda _: finished.append("claim"))
    await parked(engine, 1)
    enqueuing = asyncio.create_task(enqueue(engine))
    enqueuing.add_done_callback(lambda _: finished.append("enqueue"))
    await asyncio.wait_for(asyncio.gather(waiting, enqueuing), WAIT)
    assert finished == ["claim", "enqueue"]


async def test_a_parked_claim_woken_by_an_announcement_claims_again(engine: Engine):
    """Work announced without a hand-over (a retry come due, another server's enqueue)."""
    waiting = asyncio.create_task(engine.claim(spec(), wait=WAIT))
    await parked(engine, 1)
    await engine.pause("q")
    [(job, _)] = await enqueue(engine)  # paused: taken, handed nothing, claimed again
    await parked(engine, 1)
    await engine.store.configure_queue(
        "q", QueueChange(paused=False), engine.clock()
    )  # resumed past the engine: no word
    await asyncio.sleep(0.05)
    assert not waiting.done()
    engine.notifier.work_available("q")
    [held] = await asyncio.wait_for(waiting, WAIT)
    assert held.id == job.id


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


ORDERS = [
    (5, 0, True),  # more urgent
    (0, 0, True),  # as urgent, and older
    (1, 2, False),  # less urgent: the new job comes first
]


@pytest.mark.parametrize(("older", "newer", "older_first"), ORDERS)
async def test_a_parked_claim_gets_the_job_that_comes_first_old_or_new(
    engine: Engine, older: int, newer: int, older_first: bool
):
    """A job already queued (here written past the engine, so no claim was woken) that comes
    before the new one (higher priority, or older at the same priority) is the one held; one
    that comes after leaves the new job to the claim, and stays queued."""
    waiting = asyncio.create_task(engine.claim(spec(), wait=WAIT))
    await parked(engine, 1)
    now = engine.clock()
    first = engine.build(JobSpec(queue="q", type="t", priority=older), now)
    await engine.store.insert([first], now)
    [(new, _)] = await enqueue(engine, priority=newer)
    [held] = await asyncio.wait_for(waiting, WAIT)
    taken, left = (first, new) if older_first else (new, first)
    assert held.id == taken.id and held.state is State.running
    assert await engine.get(taken.id) == held  # the job as stored is the job the claim holds
    assert (await engine.get(left.id)).state is State.queued
    assert [a.attempt for a in await engine.attempts(left.id)] == []


async def test_jobs_a_parked_claim_does_not_want_do_not_keep_a_new_one_from_it(engine: Engine):
    waiting = asyncio.create_task(engine.claim(spec(types=["wanted"]), wait=WAIT))
    await parked(engine, 1)
    now = engine.clock()
    other = engine.build(JobSpec(queue="q", type="other", priority=9), now)
    await engine.store.insert([other], now)  # queued, before the new one, of another type
    [(job, _)] = await enqueue(engine, type="wanted")
    [held] = await asyncio.wait_for(waiting, WAIT)
    assert held.id == job.id


async def test_a_handed_job_is_leased_as_a_claim_leases_it(engine: Engine):
    """The lease, deadline, attempt and worker a hand-over writes are a claim's."""
    waiting = asyncio.create_task(engine.claim(
        ClaimSpec(["q"], None, 1, 30.0, Worker("w", "h", 1)), wait=WAIT))  # fmt: skip
    await parked(engine, 1)
    [(job, _)] = await enqueue(engine, deadline_seconds=100.0, metadata={"k": "v"}, priority=3)
    [held] = await asyncio.wait_for(waiting, WAIT)
    stored = await engine.get(job.id)
    assert stored.lease_seconds == 30.0 and stored.attempt == 1 and stored.priority == 3
    assert stored.started_at is not None and stored.started_at >= job.created_at
    assert stored.lease_expires_at == stored.started_at + 30.0
    assert stored.deadline_at == stored.started_at + 100.0
    assert stored.last_heartbeat_at == stored.started_at and stored.metadata == {"k": "v"}
    assert stored.worker == Worker("w", "h", 1) and stored.lease_token == held.lease_token
    assert stored.lease_token is not None and stored.lease_token.endswith(f".{stored.seq}")
    [attempt] = await engine.attempts(job.id)
    assert attempt.started_at == stored.started_at and attempt.worker == Worker("w", "h", 1)


async def test_a_handed_job_takes_the_next_seq_and_never_a_deleted_jobs(engine: Engine):
    """The hand-over writes the job's seq itself (SQLite) or takes it from the sequence
    (PostgreSQL): after the newest job was deleted, its seq is not given again."""
    [(done, _)] = await enqueue(engine)
    [got] = await engine.claim(spec())
    await engine.complete(got.id, got.lease_token or "", None)
    assert await engine.delete([done.id]) == [State.succeeded]
    waiting = asyncio.create_task(engine.claim(spec(), wait=WAIT))
    await parked(engine, 1)
    [(handed, _)] = await enqueue(engine)
    [held] = await asyncio.wait_for(waiting, WAIT)
    [(after, _)] = await enqueue(engine)
    assert held.id == handed.id and held.seq == handed.seq
    assert done.seq < handed.seq < after.seq
    assert (await engine.get(handed.id)).seq == handed.seq


@pytest.mark.parametrize("due", [False, True])
async def test_a_hand_over_records_its_worker_at_most_once_a_second(engine: Engine, due: bool):
    """The worker's row (the workers list, the problem finder) is written by the claim that
    parks, and by the hand-over only once a second has passed since."""
    worker = Worker("w", "h", 1)
    waiting = asyncio.create_task(engine.claim(ClaimSpec(["q"], None, 1, None, worker), WAIT))
    await parked(engine, 1)
    if due:
        await asyncio.sleep(1.1)
    [(job, _)] = await enqueue(engine)
    [held] = await asyncio.wait_for(waiting, WAIT)
    assert held.id == job.id and held.state is State.running
    [seen] = await engine.store.workers()
    assert (seen.name, seen.host, seen.pid, seen.queues) == ("w", "h", 1, ["q"])
    assert (seen.last_seen >= job.created_at) is due


async def test_a_waiting_claim_of_every_queue_gets_a_job_of_a_queue_made_while_it_waits(
    engine: Engine,
):
    every = ClaimSpec(None, None, 1, None, Worker("w", "h", 1))
    waiting = asyncio.create_task(engine.claim(every, wait=WAIT))
    await parked(engine, 1)
    [(job, _)] = await enqueue(engine, queue="brand-new")
    [held] = await asyncio.wait_for(waiting, WAIT)
    assert held.id == job.id and held.state is State.running
    [seen] = await engine.store.workers()
    assert seen.queues is None
