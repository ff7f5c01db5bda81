"""Bulk work through the engine, on every store: a job has one retry, retries and cancels by
ids, operations by filter walked in batches, and queues purged and dropped."""

from __future__ import annotations

import asyncio

import pytest

from jobq.engine import Engine, JobSpec
from jobq.engine.operations import Runner
from jobq.engine.selection import Selection
from jobq.errors import Conflict, InvalidInput, NotFound
from jobq.model import ClaimSpec, Job, JobQuery, Operation, Worker
from jobq.states import State


async def failed_jobs(engine: Engine, n: int, queue: str = "q", **kw: object) -> list[Job]:
    """`n` jobs of `queue` failed for good (one attempt each)."""
    specs = [JobSpec(queue=queue, max_attempts=1, payload=i, **kw) for i in range(n)]  # type: ignore[arg-type]
    await engine.enqueue(specs)
    claimed = await engine.claim(ClaimSpec([queue], None, n, None, Worker("w")))
    for job in claimed:
        await engine.fail(job.id, job.lease_token or "", {"code": "boom"})
    return [await engine.get(j.id) for j in claimed]


async def retried_by(engine: Engine, jobs: list[Job]) -> list[str | None]:
    return [(await engine.get(j.id)).retried_by for j in jobs]


async def finish(engine: Engine, op: Operation) -> Operation:
    await engine.runner.join(op.id)
    return await engine.operation(op.id)


async def test_a_second_retry_of_a_job_names_the_first_and_makes_nothing(engine: Engine):
    [job] = await failed_jobs(engine, 1)
    first = await engine.retry(job.id)
    with pytest.raises(Conflict) as refused:
        await engine.retry(job.id)
    assert refused.value.details["retried_by"] == first.id
    assert first.id in refused.value.message
    made = await engine.list_jobs(JobQuery(queues=["q"], states=[State.queued]))
    assert [j.id for j in made] == [first.id]
    assert (await engine.get(job.id)).retried_by == first.id


async def test_concurrent_retries_of_one_job_make_one(engine: Engine):
    [job] = await failed_jobs(engine, 1)
    outcomes = await asyncio.gather(
        *(engine.retry(job.id) for _ in range(5)), return_exceptions=True
    )
    made = [o for o in outcomes if isinstance(o, Job)]
    assert len(made) == 1
    assert all(isinstance(o, Conflict) for o in outcomes if not isinstance(o, Job))
    assert len(await engine.list_jobs(JobQuery(states=[State.queued]))) == 1


async def test_a_job_whose_retry_was_deleted_may_be_retried_again(engine: Engine):
    [job] = await failed_jobs(engine, 1)
    first = await engine.retry(job.id)
    await engine.cancel(first.id)
    assert await engine.delete([first.id]) == [State.cancelled]
    second = await engine.retry(job.id)
    assert second.id != first.id and (await engine.get(job.id)).retried_by == second.id


async def test_retry_each_answers_each_id_on_its_own(engine: Engine):
    a, b = await failed_jobs(engine, 2)
    [(waiting, _)] = await engine.enqueue([JobSpec(queue="q")])
    done = await engine.retry(b.id)
    outcomes = await engine.retry_each([a.id, b.id, waiting.id, "nope", a.id])
    assert isinstance(outcomes[0], Job) and outcomes[0].retry_of == a.id
    assert isinstance(outcomes[1], Conflict) and outcomes[1].details["retried_by"] == done.id
    assert isinstance(outcomes[2], Conflict) and "finished" in outcomes[2].message
    assert isinstance(outcomes[3], NotFound)
    assert isinstance(outcomes[4], Conflict)  # the same job twice: one retry
    assert outcomes[4].details["retried_by"] == outcomes[0].id


async def test_listings_and_counts_leave_retried_jobs_out_when_asked(engine: Engine):
    jobs = await failed_jobs(engine, 3)
    await engine.retry(jobs[0].id)
    failed = JobQuery(queues=["q"], states=[State.failed])
    left = await engine.list_jobs(JobQuery(queues=["q"], states=[State.failed], retried=False))
    assert {j.id for j in left} == {jobs[1].id, jobs[2].id}
    retried = await engine.list_jobs(JobQuery(queues=["q"], retried=True))
    assert [j.id for j in retried] == [jobs[0].id]
    assert await engine.count_jobs(failed, 100) == 3
    [stats] = await engine.queues()
    assert stats.counts["failed"] == 3 and stats.retried["failed"] == 1


async def test_cancel_each_cancels_waiting_asks_running_and_refuses_finished(engine: Engine):
    [(waiting, _)] = await engine.enqueue([JobSpec(queue="a")])
    [(running, _)] = await engine.enqueue([JobSpec(queue="b")])
    await engine.claim(ClaimSpec(["b"], None, 1, None, Worker("w")))
    [done] = await failed_jobs(engine, 1, queue="c")
    outcomes = await engine.cancel_each([waiting.id, running.id, done.id], reason="why")
    assert isinstance(outcomes[0], Job) and outcomes[0].state == State.cancelled
    assert isinstance(outcomes[1], Job) and outcomes[1].cancel_requested
    assert isinstance(outcomes[2], Conflict)


@pytest.mark.parametrize("batch", [1, 7, 500])
async def test_a_bulk_retry_by_filter_retries_each_matching_job_once(engine: Engine, batch: int):
    engine.runner = Runner(engine, engine.operation_store, batch=batch)
    jobs = await failed_jobs(engine, 20, metadata={"team": "a"})
    others = await failed_jobs(engine, 5, queue="q2")
    cold = await failed_jobs(engine, 3, metadata={"team": "b"})
    await engine.retry(jobs[0].id)
    selection = Selection(states=[State.failed], metadata={"team": "a"})
    assert await engine.count_matching("retry", selection, ["q"], 1000) == 19
    op = await finish(engine, await engine.begin("retry", selection, ["q"], "ann"))
    assert (op.state, op.matched, op.done, op.failed) == ("done", 19, 19, 0)
    assert op.finished_at is not None and op.lease_token is None
    for job in jobs:
        source = await engine.get(job.id)
        assert source.retried_by is not None
        assert (await engine.get(source.retried_by)).retry_of == job.id
    assert await retried_by(engine, others + cold) == [None] * 8
    again = await finish(engine, await engine.begin("retry", selection, ["q"], "ann"))
    assert (again.matched, again.done) == (0, 0)  # nothing left to retry: nothing doubled
    queued = await engine.list_jobs(JobQuery(states=[State.queued], limit=1000))
    assert len(queued) == 20


async def test_an_operation_leaves_jobs_made_after_it_began(engine: Engine):
    await failed_jobs(engine, 3)
    op = await engine.begin("cancel", Selection(), ["q"], None)
    await engine.runner.stop()  # not yet run
    await engine.enqueue([JobSpec(queue="q")])
    engine.runner.start(op)
    op = await finish(engine, op)
    assert op.matched == 0  # the three are failed, the new one came later
    assert len(await engine.list_jobs(JobQuery(states=[State.queued]))) == 1


async def test_cancel_and_delete_by_filter(engine: Engine):
    await engine.enqueue([JobSpec(queue="q", type=t) for t in ("a", "b", "a")])
    op = await finish(engine, await engine.begin("cancel", Selection(types=["a"]), None, None))
    assert (op.matched, op.done) == (2, 2)
    states = sorted(str(j.state) for j in await engine.list_jobs(JobQuery(queues=["q"])))
    assert states == ["cancelled", "cancelled", "queued"]
    gone = await finish(engine, await engine.begin("delete", Selection(queues=["q"]), None, None))
    assert (gone.matched, gone.done) == (2, 2)
    assert [str(j.state) for j in await engine.list_jobs(JobQuery(queues=["q"]))] == ["queued"]


async def test_a_filter_refuses_states_its_action_never_touches(engine: Engine):
    with pytest.raises(InvalidInput) as refused:
        await engine.begin("delete", Selection(states=[State.queued]), None, None)
    assert refused.value.details["allowed"] == ["succeeded", "failed", "cancelled"]
    with pytest.raises(InvalidInput):
        await engine.begin("explode", Selection(), None, None)


async def test_an_operation_acts_only_on_the_queues_it_was_given(engine: Engine):
    mine = await failed_jobs(engine, 3, queue="mine")
    theirs = await failed_jobs(engine, 3, queue="theirs")
    asked = Selection(queues=["mine", "theirs"])
    op = await finish(engine, await engine.begin("retry", asked, ["mine"], "ann"))
    assert (op.matched, op.done) == (3, 3)
    assert all(await retried_by(engine, mine))
    assert await retried_by(engine, theirs) == [None] * 3
    nothing = await finish(engine, await engine.begin("retry", Selection(), [], "ann"))
    assert (nothing.state, nothing.matched) == ("done", 0)


async def test_a_cancelled_operation_stops_after_its_batch(engine: Engine):
    engine.runner = Runner(engine, engine.operation_store, batch=2)
    await failed_jobs(engine, 10)
    op = await engine.begin("delete", Selection(), None, None)
    stopped = await engine.cancel_operation(op.id)
    await engine.runner.join(op.id)
    assert stopped.state == "cancelled"
    after = await engine.operation(op.id)
    assert after.state == "cancelled" and after.matched < 10
    with pytest.raises(Conflict):
        await engine.cancel_operation(op.id)


async def test_a_stopped_runner_is_taken_over_once_its_lease_passes(engine: Engine):
    engine.runner = Runner(engine, engine.operation_store, batch=3, lease=0.2)
    jobs = await failed_jobs(engine, 10)
    op = await engine.begin("retry", Selection(), None, None)
    await engine.runner.stop()  # as if its process died before a batch
    assert await engine.resume_operations(engine.clock()) is not None  # not yet due
    await asyncio.sleep(0.3)
    other = Runner(engine, engine.operation_store, batch=3, lease=0.2)
    engine.runner = other
    assert await engine.resume_operations(engine.clock()) is not None
    assert list(other.tasks) == [op.id]
    done = await finish(engine, op)
    assert (done.state, done.done) == ("done", 10)
    assert all(await retried_by(engine, jobs))


async def test_purge_deletes_waiting_jobs_and_drop_forgets_the_queue(engine: Engine):
    await failed_jobs(engine, 2, queue="typo")
    await engine.enqueue([JobSpec(queue="typo", delay=d) for d in (0, 0, 3600)])
    assert not await engine.drop_queue("typo")  # it holds jobs
    purged = await finish(engine, await engine.clear_queue("typo", None, drop=False))
    assert (purged.matched, purged.done) == (3, 3)
    left = await engine.list_jobs(JobQuery(queues=["typo"]))
    assert sorted(str(j.state) for j in left) == ["failed", "failed"]
    dropped: list[str] = []

    async def forget(name: str) -> None:
        dropped.append(name)

    engine.runner.on_queue_dropped = forget
    op = await finish(engine, await engine.clear_queue("typo", None, drop=True))
    assert (op.state, op.done) == ("done", 2) and dropped == ["typo"]
    assert "typo" not in [q.name for q in await engine.queues()]


async def test_dropping_a_queue_keeps_it_while_a_job_of_it_runs(engine: Engine):
    await engine.enqueue([JobSpec(queue="busy"), JobSpec(queue="busy")])
    await engine.claim(ClaimSpec(["busy"], None, 1, None, Worker("w")))
    op = await finish(engine, await engine.clear_queue("busy", None, drop=True))
    assert op.state == "failed" and "running" in (op.message or "")
    [stats] = await engine.queues()
    assert stats.name == "busy" and stats.paused and stats.counts["running"] == 1
    assert stats.counts["queued"] == 0


async def test_a_retry_without_states_takes_the_failed_jobs_only(engine: Engine):
    [failed_one] = await failed_jobs(engine, 1)
    [(done, _)] = await engine.enqueue([JobSpec(queue="q")])
    [held] = await engine.claim(ClaimSpec(["q"], None, 1, None, Worker("w")))
    await engine.complete(held.id, held.lease_token or "")
    assert await engine.count_matching("retry", Selection(), None, 100) == 1
    op = await finish(engine, await engine.begin("retry", Selection(), None, None))
    assert op.done == 1 and (await engine.get(done.id)).retried_by is None
    asked = Selection(states=[State.succeeded])
    op = await finish(engine, await engine.begin("retry", asked, None, None))
    assert op.done == 1 and (await engine.get(done.id)).retried_by is not None
    assert (await engine.get(failed_one.id)).retried_by is not None
