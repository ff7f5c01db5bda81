"""The engine over every store: the job lifecycle and its rules."""

from __future__ import annotations

import asyncio

import pytest

from jobq.engine import Ack, Engine, JobSpec
from jobq.errors import Conflict, NotFound, StaleLease
from jobq.model import ClaimSpec, JobQuery, Worker
from jobq.states import State


def claim_spec(
    *queues: str, limit: int = 1, lease: float | None = None, name: str = "w"
) -> ClaimSpec:
    return ClaimSpec(list(queues) or ["q"], None, limit, lease, Worker(name, "host", 1))


async def enqueue(engine: Engine, n: int = 1, **kw) -> list:
    inserted = await engine.enqueue([JobSpec(**{"queue": "q", **kw}) for _ in range(n)])
    return [job for job, _ in inserted]


async def test_claims_take_highest_priority_first_then_oldest(engine: Engine):
    low = await enqueue(engine, 2, priority=0)
    high = await enqueue(engine, 2, priority=5)
    claimed = await engine.claim(claim_spec(limit=4))
    assert [j.id for j in claimed] == [high[0].id, high[1].id, low[0].id, low[1].id]
    assert all(j.state == State.running and j.lease_token for j in claimed)


async def test_claim_respects_types_and_several_queues(engine: Engine):
    await enqueue(engine, queue="a", type="x")
    wanted = (await enqueue(engine, queue="b", type="y"))[0]
    spec = ClaimSpec(["a", "b"], ["y"], 5, None, Worker("w"))
    assert [j.id for j in await engine.claim(spec)] == [wanted.id]


async def test_complete_records_result_and_attempt(engine: Engine):
    [job] = await enqueue(engine)
    [held] = await engine.claim(claim_spec())
    done = await engine.complete(held.id, held.lease_token, {"ok": True})
    assert done.state == State.succeeded and done.result == {"ok": True}
    assert done.finished_at is not None and done.lease_token is None
    [attempt] = await engine.attempts(job.id)
    assert attempt.outcome == "succeeded" and attempt.worker.name == "w"


async def test_stale_token_is_refused(engine: Engine):
    await enqueue(engine)
    [held] = await engine.claim(claim_spec())
    with pytest.raises(StaleLease):
        await engine.complete(held.id, "not-the-token", 1)
    await engine.complete(held.id, held.lease_token, 1)
    with pytest.raises(StaleLease):
        await engine.complete(held.id, held.lease_token, 2)
    assert (await engine.get(held.id)).result == 1


async def test_failures_retry_with_backoff_until_attempts_run_out(engine: Engine):
    [job] = await enqueue(engine, max_attempts=2)
    [held] = await engine.claim(claim_spec())
    after_first = await engine.fail(held.id, held.lease_token, {"code": "boom", "message": "1"})
    assert after_first.state == State.scheduled and after_first.run_at > after_first.updated_at
    await asyncio.sleep(after_first.run_at - after_first.updated_at + 0.01)
    assert await engine.promote_due(engine.clock()) == 1
    [again] = await engine.claim(claim_spec())
    assert again.attempt == 2
    final = await engine.fail(again.id, again.lease_token, {"code": "boom", "message": "2"})
    assert final.state == State.failed and final.error["message"] == "2"
    attempts = await engine.attempts(job.id)
    assert [a.error["message"] for a in attempts] == ["1", "2"]


async def test_not_retryable_fails_at_once(engine: Engine):
    await enqueue(engine, max_attempts=5)
    [held] = await engine.claim(claim_spec())
    job = await engine.fail(held.id, held.lease_token, {"code": "x"}, retryable=False, exit_code=3)
    assert job.state == State.failed and job.exit_code == 3


async def test_expired_lease_requeues_then_fails(engine: Engine):
    [job] = await enqueue(engine, max_attempts=2)
    [held] = await engine.claim(claim_spec(lease=0.05))
    await asyncio.sleep(0.1)
    assert await engine.expire_overdue(engine.clock()) == 1
    assert (await engine.get(job.id)).state == State.queued
    [again] = await engine.claim(claim_spec(lease=0.05, name="w2"))
    with pytest.raises(StaleLease):
        await engine.heartbeat(held.id, held.lease_token)
    await asyncio.sleep(0.1)
    await engine.expire_overdue(engine.clock())
    final = await engine.get(job.id)
    assert final.state == State.failed and final.error["code"] == "lease_expired"
    assert again.worker.name == "w2"


async def test_heartbeat_extends_the_lease_and_records_progress(engine: Engine):
    await enqueue(engine)
    [held] = await engine.claim(claim_spec(lease=0.3))
    for _ in range(4):
        await asyncio.sleep(0.1)
        beat = await engine.heartbeat(held.id, held.lease_token, {"step": 1, "total": 4})
    assert await engine.expire_overdue(engine.clock()) == 0
    assert beat.state == State.running and beat.progress == {"step": 1, "total": 4}


async def test_deadline_fails_a_running_job(engine: Engine):
    [job] = await enqueue(engine, deadline_seconds=0.05, max_attempts=5)
    await engine.claim(claim_spec(lease=60))
    await asyncio.sleep(0.1)
    await engine.expire_overdue(engine.clock())
    final = await engine.get(job.id)
    assert final.state == State.failed and final.error["code"] == "deadline_exceeded"


async def test_a_deadline_from_enqueue_fails_a_job_nobody_took(engine: Engine):
    [queued] = await enqueue(engine, deadline_seconds=0.05, deadline_from_enqueue=True)
    [later] = await enqueue(engine, deadline_seconds=0.05, deadline_from_enqueue=True, delay=60)
    [claimed] = await enqueue(engine, queue="r", deadline_seconds=30, deadline_from_enqueue=True)
    assert queued.deadline_at == pytest.approx(queued.created_at + 0.05)
    held = (await engine.claim(claim_spec("r", lease=60)))[0]
    assert held.deadline_at == claimed.deadline_at, "the claim keeps the enqueue's deadline"
    assert await engine.store.next_due() <= queued.deadline_at + 1e-6
    await asyncio.sleep(0.1)
    assert await engine.expire_overdue(engine.clock()) == 2
    for job in (queued, later):
        final = await engine.get(job.id)
        assert final.state == State.failed and final.error["code"] == "deadline_exceeded"
        assert final.attempt == 0 and await engine.attempts(job.id) == []
    assert (await engine.get(held.id)).state == State.running


async def test_cancel_waiting_job_at_once(engine: Engine):
    [job] = await enqueue(engine, delay=60)
    assert job.state == State.scheduled
    cancelled = await engine.cancel(job.id, "no longer needed")
    assert cancelled.state == State.cancelled and cancelled.error["message"] == "no longer needed"
    with pytest.raises(Conflict):
        await engine.cancel(job.id)


async def test_cancel_running_job_is_confirmed_by_the_worker(engine: Engine):
    await enqueue(engine)
    [held] = await engine.claim(claim_spec())
    requested = await engine.cancel(held.id, "stop", {"by": "test"})
    assert requested.state == State.running and requested.cancel_requested
    beat = await engine.heartbeat(held.id, held.lease_token)
    assert beat.cancel_requested
    done = await engine.fail(held.id, held.lease_token, {"code": "killed"}, exit_code=-15)
    assert done.state == State.cancelled


async def test_cancel_running_job_ends_when_its_lease_runs_out(engine: Engine):
    await enqueue(engine)
    [held] = await engine.claim(claim_spec(lease=0.05))
    await engine.cancel(held.id)
    await asyncio.sleep(0.1)
    await engine.expire_overdue(engine.clock())
    assert (await engine.get(held.id)).state == State.cancelled


async def test_retry_makes_a_new_linked_job(engine: Engine):
    await enqueue(engine)
    [held] = await engine.claim(claim_spec())
    with pytest.raises(Conflict):
        await engine.retry(held.id)
    await engine.fail(held.id, held.lease_token, {"code": "x"}, retryable=False)
    new = await engine.retry(held.id)
    assert new.id != held.id and new.retry_of == held.id and new.state == State.queued
    assert (await engine.get(held.id)).retried_by == new.id


async def test_unique_key_returns_the_live_job(engine: Engine):
    [(first, created)] = await engine.enqueue([JobSpec(queue="q", unique_key="k")])
    [(second, again)] = await engine.enqueue([JobSpec(queue="q", unique_key="k")])
    assert created and not again and second.id == first.id
    [held] = await engine.claim(claim_spec())
    await engine.complete(held.id, held.lease_token)
    [(third, fresh)] = await engine.enqueue([JobSpec(queue="q", unique_key="k")])
    assert fresh and third.id != first.id


async def test_update_changes_waiting_jobs_only(engine: Engine):
    [job] = await enqueue(engine)
    moved = await engine.update(job.id, priority=9, metadata={"a": "b"}, run_at=engine.clock() + 60)
    assert moved.state == State.scheduled and moved.priority == 9 and moved.metadata == {"a": "b"}
    back = await engine.update(job.id, run_at=engine.clock() - 1)
    assert back.state == State.queued
    await engine.claim(claim_spec())
    with pytest.raises(Conflict):
        await engine.update(job.id, priority=1)


async def test_delete_only_finished_jobs(engine: Engine):
    [waiting, done] = await enqueue(engine, 2)
    [held] = await engine.claim(claim_spec())
    await engine.complete(held.id, held.lease_token)
    states = await engine.delete(
        [waiting.id if held.id != waiting.id else done.id, held.id, "nope"]
    )
    assert states == [State.queued, State.succeeded, None]
    with pytest.raises(NotFound):
        await engine.get(held.id)


async def test_paused_queue_hands_out_nothing(engine: Engine):
    await enqueue(engine)
    await engine.pause("q")
    assert await engine.claim(claim_spec()) == []
    [stats] = await engine.queues()
    assert stats.paused and stats.counts["queued"] == 1
    await engine.resume("q")
    assert len(await engine.claim(claim_spec())) == 1


async def test_delayed_job_becomes_queued_when_due(engine: Engine):
    [job] = await enqueue(engine, delay=0.05)
    assert await engine.claim(claim_spec()) == []
    await asyncio.sleep(0.1)
    assert await engine.promote_due(engine.clock()) == 1
    assert [j.id for j in await engine.claim(claim_spec())] == [job.id]


async def test_finished_jobs_are_purged_after_their_ttl(engine: Engine):
    [job] = await enqueue(engine, result_ttl=0.05)
    [held] = await engine.claim(claim_spec())
    await engine.complete(held.id, held.lease_token)
    assert await engine.store.purge(engine.clock(), 100) == 0
    await asyncio.sleep(0.1)
    assert await engine.store.purge(engine.clock(), 100) == 1
    with pytest.raises(NotFound):
        await engine.get(job.id)


async def test_batch_ack_reports_each_outcome(engine: Engine):
    await enqueue(engine, 3)
    a, b, c = await engine.claim(claim_spec(limit=3))
    outcomes = await engine.ack(
        [
            Ack(a.id, a.lease_token, result=1),
            Ack(b.id, "wrong", result=2),
            Ack(c.id, c.lease_token, error={"code": "x"}, retryable=False),
        ]
    )
    assert outcomes[0].state == State.succeeded
    assert isinstance(outcomes[1], StaleLease)
    assert outcomes[2].state == State.failed


async def test_a_batch_ack_stores_each_jobs_own_values(engine: Engine):
    """Values shared by the whole batch and values that differ go out together (PostgreSQL
    sends a shared one once): each job must keep its own."""
    await enqueue(engine, 6)
    jobs = await engine.claim(claim_spec(limit=6))
    results = ["same", "same", {"n": 2}, None, "same", [5]]
    outcomes = await engine.ack(
        [Ack(j.id, j.lease_token, result=r) for j, r in zip(jobs, results, strict=True)]
    )
    assert [o.result for o in outcomes] == results
    stored = [(await engine.get(j.id)).result for j in jobs]
    assert stored == results


async def test_ack_and_claim_stores_outcomes_then_claims_in_one_go(engine: Engine):
    first, second, third = await enqueue(engine, 3)
    [held] = await engine.claim(claim_spec())
    assert held.id == first.id
    acks = [Ack(held.id, held.lease_token, result="r"), Ack(second.id, "not-held")]
    outcomes, claimed = await engine.ack_and_claim(acks, claim_spec(limit=5))
    assert outcomes[0].state == State.succeeded and isinstance(outcomes[1], StaleLease)
    assert [j.id for j in claimed] == [second.id, third.id]
    assert (await engine.get(first.id)).result == "r"
    [attempt] = await engine.attempts(first.id)
    assert attempt.outcome == "succeeded"
    # a failed attempt with attempts left is not claimed again in the same breath (backoff)
    retry = Ack(second.id, claimed[0].lease_token, error={"code": "x"}, retryable=True)
    outcomes, again = await engine.ack_and_claim([retry], claim_spec(), wait=0.2)
    assert outcomes[0].state == State.scheduled and again == []


async def test_ack_and_claim_waits_for_a_job_after_storing_the_outcomes(engine: Engine):
    [job] = await enqueue(engine)
    [held] = await engine.claim(claim_spec())
    later = asyncio.create_task(
        engine.ack_and_claim([Ack(held.id, held.lease_token)], claim_spec(), wait=30)
    )
    await asyncio.sleep(0.1)
    assert (await engine.get(job.id)).state == State.succeeded  # stored before the wait
    [new] = await enqueue(engine)
    outcomes, claimed = await asyncio.wait_for(later, 30)
    assert outcomes[0].state == State.succeeded and [j.id for j in claimed] == [new.id]


async def test_logs_append_in_order_with_tail_and_after(engine: Engine):
    [job] = await enqueue(engine)
    await engine.append_logs(job.id, [(None, "stdout", f"line {i}") for i in range(10)])
    await engine.append_logs(job.id, [(None, "stderr", "oops")])
    everything = await engine.logs(job.id)
    assert [e.seq for e in everything] == list(range(1, 12))
    assert [e.text for e in await engine.logs(job.id, tail=2)] == ["line 9", "oops"]
    assert [e.seq for e in await engine.logs(job.id, after=9)] == [10, 11]


async def test_listing_filters_and_pages_stably(engine: Engine):
    await enqueue(engine, 25, metadata={"team": "a"})
    await enqueue(engine, 5, queue="other", metadata={"team": "b"})
    seen, after = [], None
    while True:
        page = await engine.list_jobs(JobQuery(metadata={"team": "a"}, limit=7, after=after))
        seen += [j.seq for j in page]
        if len(page) < 7:
            break
        after = (page[-1].seq, page[-1].seq)
    assert len(seen) == 25 and seen == sorted(seen)
    newest = await engine.list_jobs(JobQuery(queues=["other"], descending=True, limit=2))
    assert newest[0].seq > newest[1].seq and newest[0].queue == "other"


async def test_long_poll_claim_wakes_when_a_job_arrives(engine: Engine):
    waiter = asyncio.create_task(engine.claim(claim_spec(), wait=30))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    [job] = await enqueue(engine)
    claimed = await asyncio.wait_for(waiter, 5)
    assert [j.id for j in claimed] == [job.id]


async def test_one_job_wakes_one_waiter(engine: Engine):
    waiters = [asyncio.create_task(engine.claim(claim_spec(), wait=2)) for _ in range(5)]
    await asyncio.sleep(0.05)
    await enqueue(engine)
    results = await asyncio.gather(*waiters)
    assert sorted(len(r) for r in results) == [0, 0, 0, 0, 1]


async def test_wait_returns_when_the_job_finishes(engine: Engine):
    [job] = await enqueue(engine)
    waiting = asyncio.create_task(engine.wait(job.id, 30))
    [held] = await engine.claim(claim_spec())
    await engine.complete(held.id, held.lease_token, "r")
    finished = await asyncio.wait_for(waiting, 5)
    assert finished.state == State.succeeded and finished.result == "r"


async def test_many_concurrent_claimers_never_share_a_job(engine: Engine):
    """64 claimers over 5,000 jobs: each job claimed exactly once."""
    total = 5000
    for _ in range(0, total, 500):
        await enqueue(engine, 500)
    holders: dict[str, str] = {}
    doubles: list[str] = []

    async def claimer(n: int) -> None:
        while True:
            jobs = await engine.claim(claim_spec(limit=8, name=f"w{n}"))
            if not jobs:
                return
            for job in jobs:
                if job.id in holders:
                    doubles.append(job.id)
                holders[job.id] = f"w{n}"
            await engine.ack([Ack(j.id, j.lease_token, result=n) for j in jobs])

    await asyncio.gather(*(claimer(n) for n in range(64)))
    assert doubles == []
    assert len(holders) == total
    assert len(set(holders.values())) > 1
    [stats] = await engine.queues()
    assert stats.counts["succeeded"] == total


async def test_a_failed_job_with_a_respawn_policy_runs_again_as_a_new_job(engine: Engine):
    from jobq.engine import respawn

    [job] = await enqueue(engine, max_attempts=1, metadata=respawn.policy(1, 0))
    [held] = await engine.claim(claim_spec())
    failed = await engine.fail(held.id, held.lease_token, {"code": "x"})
    assert failed.state == State.failed and failed.retried_by is not None
    spawned = await engine.get(failed.retried_by)
    assert spawned.retry_of == job.id and spawned.metadata[respawn.REMAINING] == "0"


async def test_a_claim_of_named_jobs_takes_only_those(engine: Engine):
    jobs = await enqueue(engine, 3)
    spec = claim_spec(limit=5)
    spec.ids = [jobs[2].id]
    assert [j.id for j in await engine.claim(spec)] == [jobs[2].id]


async def test_a_released_job_can_be_claimed_again(engine: Engine):
    [job] = await enqueue(engine)
    [held] = await engine.claim(claim_spec())
    released = await engine.release(held.id, held.lease_token)
    assert released.state == State.queued and released.attempt == 0
    [again] = await engine.claim(claim_spec(name="w2"))
    assert again.id == job.id and again.attempt == 1
    await engine.complete(again.id, again.lease_token)
    [attempt] = await engine.attempts(job.id)
    assert attempt.outcome == "succeeded" and attempt.worker.name == "w2"
