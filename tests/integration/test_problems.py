"""Problems over every store: each kind appears with the jobs it holds, keeps its id while the
cause lasts, and goes away by itself when the cause does."""

from __future__ import annotations

from dataclasses import replace

import pytest

from jobq.engine import Defaults, Engine, JobSpec
from jobq.engine.problems import problem_id
from jobq.model import ClaimSpec, QueueLimits, Worker
from jobq.notify import Notifier
from jobq.store.base import Store


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def eng(store: Store, clock: Clock) -> Engine:
    return Engine(store, Notifier(), Defaults(backoff_base=0.05, backoff_max=0.2), clock=clock)


async def enqueue(eng: Engine, **kw) -> str:
    [(job, _)] = await eng.enqueue([JobSpec(**{"queue": "q", "type": "t", **kw})])
    return job.id


def spec(queue: str = "q", types: list[str] | None = None) -> ClaimSpec:
    return ClaimSpec([queue], types, 1, None, Worker("w", "host", 1))


async def kinds(eng: Engine) -> dict[str, list[str]]:
    return {p.kind: p.jobs for p in await eng.problems()}


async def test_no_problems_on_a_quiet_server(eng: Engine):
    await enqueue(eng)
    assert await eng.problems() == []


async def test_paused_queue_holds_its_queued_jobs_until_resumed(eng: Engine):
    job = await enqueue(eng)
    await eng.pause("q")
    [problem] = await eng.problems()
    assert problem.kind == "queue_paused" and problem.jobs == [job]
    assert problem.id == problem_id("queue_paused", "q") and problem.job_count == 1
    assert [p.id for p in await eng.problems_of(await eng.get(job))] == [problem.id]
    await eng.resume("q")
    assert await eng.problems() == []


async def test_paused_queue_without_waiting_jobs_is_no_problem(eng: Engine):
    await eng.pause("empty")
    assert await eng.problems() == []


async def test_no_worker_appears_after_idle_time_with_a_stable_id(eng: Engine, clock: Clock):
    job = await enqueue(eng)
    clock.now += 59
    assert await eng.problems() == []
    clock.now += 2
    [first] = await eng.problems()
    assert first.kind == "no_worker" and first.jobs == [job] and first.type == "t"
    assert "no worker has asked for queue q" in first.message
    clock.now += 30
    [again] = await eng.problems()
    assert again.id == first.id
    await eng.claim(spec())
    assert await eng.problems() == []


async def test_no_worker_names_the_type_nobody_takes(eng: Engine, clock: Clock):
    wanted = await enqueue(eng, type="x")
    await enqueue(eng, type="y")
    clock.now += 61
    await eng.claim(spec(types=["y"]))  # a worker serves the queue, but only type y
    [problem] = await eng.problems()
    assert problem.kind == "no_worker" and problem.jobs == [wanted] and problem.type == "x"
    assert "none has taken a job of type x" in problem.message


async def test_a_job_taken_within_the_idle_time_counts_though_it_has_finished(
    eng: Engine, clock: Clock
):
    """When a job of the queue and type was last taken is read from the live jobs and those
    finished within the idle time (an earlier finish cannot follow a later take)."""
    waiting = await enqueue(eng)
    taken = await enqueue(eng, priority=5)
    clock.now += 30
    [held] = await eng.claim(spec())
    assert held.id == taken
    clock.now += 10
    await eng.complete(taken, held.lease_token or "")
    clock.now += 21  # the other job has waited 61 s, but one of q/t was taken 31 s ago
    assert await eng.problems() == []
    clock.now += 30  # now the last one was taken 61 s ago
    [problem] = await eng.problems()
    assert (problem.kind, problem.jobs) == ("no_worker", [waiting])


async def test_repeated_failures_make_a_problem_until_the_job_succeeds(eng: Engine, clock: Clock):
    job = await enqueue(eng, max_attempts=5, backoff_base=0.0, backoff_max=0.0)
    for n in range(2):
        [held] = await eng.claim(spec())
        await eng.fail(held.id, held.lease_token, {"code": "boom", "message": f"boom {n}"})
        if n == 0:
            assert "failing" not in await kinds(eng)
        clock.now += 1
        await eng.promote_due(clock.now)
    problems = {p.kind: p for p in await eng.problems()}
    assert problems["failing"].jobs == [job] and "boom 1" in problems["failing"].message
    [held] = await eng.claim(spec())
    assert "failing" in await kinds(eng), "still held while its third attempt runs"
    await eng.complete(held.id, held.lease_token, "ok")
    assert await eng.problems() == []


async def test_deadline_about_to_pass(eng: Engine, clock: Clock):
    job = await enqueue(eng, deadline_seconds=100)
    [held] = await eng.claim(spec())
    clock.now += 70
    assert await eng.problems() == []
    clock.now += 6  # 24 s left: within a quarter of the deadline
    [problem] = await eng.problems()
    assert problem.kind == "deadline" and problem.jobs == [job]
    await eng.complete(held.id, held.lease_token)
    assert await eng.problems() == []


async def test_problems_of_a_job_held_beyond_the_listed_ids(store: Store, clock: Clock):
    eng = Engine(store, Notifier(), clock=clock)
    eng.problem_finder.settings.max_jobs = 1
    first, second = await enqueue(eng), await enqueue(eng)
    await eng.pause("q")
    [problem] = await eng.problems()
    assert problem.jobs == [first] and problem.job_count == 2
    assert [p.kind for p in await eng.problems_of(await eng.get(second))] == ["queue_paused"]


async def test_a_queue_at_its_concurrency_holds_its_waiting_jobs_until_room_comes(
    eng: Engine, clock: Clock
):
    ids = [await enqueue(eng, priority=9 - n) for n in range(5)]
    await eng.set_limits("q", QueueLimits(concurrency=2, rate=100, rate_period=60.0))
    held = await eng.claim(spec())
    clock.now += 120  # long enough for no_worker, were the limit not the reason
    assert await eng.problems() == []  # one of two running: room for one more
    held += await eng.claim(spec())
    assert [j.id for j in held] == ids[:2]
    [problem] = await eng.problems()
    assert (problem.kind, problem.queue, problem.type) == ("queue_limited", "q", None)
    assert problem.id == problem_id("queue_limited", "q")
    assert problem.jobs == ids[2:] and problem.job_count == 3
    assert problem.message == "queue q is at its concurrency limit: 2 of 2 running; 3 jobs waiting"
    assert problem.data["limit"] == "concurrency" and problem.data["running"] == "2"
    waiting = await eng.get(ids[4])
    assert [p.id for p in await eng.problems_of(waiting)] == [problem.id]
    [situation] = await eng.situations([waiting])
    assert [p.id for p in situation.held_by] == [problem.id]
    await eng.pause("q")  # the pause holds them first
    assert [p.kind for p in await eng.problems()] == ["queue_paused"]
    await eng.resume("q")
    assert held[0].lease_token is not None
    await eng.complete(held[0].id, held[0].lease_token)  # room for one: no problem now
    assert await eng.problems() == []
    [situation] = await eng.situations([waiting])
    assert situation.held_by == ()


async def test_a_limit_lowered_below_the_running_jobs_says_how_many_run(eng: Engine):
    """The running jobs are counted up to the concurrency and max_jobs more, no further."""
    for _ in range(5):
        await enqueue(eng)
    await eng.claim(replace(spec(), limit=4))
    await eng.set_limits("q", QueueLimits(concurrency=1))
    [problem] = await eng.problems()
    assert problem.message == "queue q is at its concurrency limit: 4 of 1 running; 1 job waiting"
    eng.problem_finder.settings.max_jobs = 2
    [problem] = await eng.problems()
    assert problem.message.endswith("limit: at least 3 of 1 running; 1 job waiting")
