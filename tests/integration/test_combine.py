"""Acknowledge-and-claim requests combined into one transaction (jobq.store.combine): the
Combiner's rules with stand-ins, then PostgreSQL under many requests at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest

from jobq.engine import Ack, Engine, JobSpec
from jobq.errors import StoreUnavailable
from jobq.model import ClaimSpec, Job, Worker
from jobq.notify import Notifier
from jobq.states import State
from jobq.store.combine import Combiner, Outcome, Request, claim_groups, deal
from jobq.store.postgres import PostgresStore
from tests import pgdb


async def turns(n: int = 5) -> None:
    """Let the loop run every task that is ready, a few times over."""
    for _ in range(n):
        await asyncio.sleep(0)


def request(name: str, limit: int = 1, worker: str = "w") -> Request:
    spec = ClaimSpec(["q"], ["t"], limit, None, Worker(worker, "h", 1))
    return Request([], spec, f"key-{name}", 1.0, False)


class StandIn:
    """run_one / run_all that record their calls and hold until let go."""

    def __init__(self, fail_together: BaseException | None = None) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.go = asyncio.Event()
        self.fail_together = fail_together

    async def one(self, r: Request) -> Outcome:
        self.calls.append(("one", [r.lease_key]))
        await self.go.wait()
        if r.lease_key == "key-bad":
            raise ValueError("bad alone")
        return [], []

    async def all(self, rs: Sequence[Request]) -> list[Outcome]:
        self.calls.append(("all", [r.lease_key for r in rs]))
        await self.go.wait()
        if self.fail_together is not None:
            raise self.fail_together
        return [([], []) for _ in rs]


async def test_a_lone_request_runs_at_once_and_latecomers_wait_to_go_together() -> None:
    s = StandIn()
    combiner = Combiner(s.one, s.all, in_flight=1)
    first = asyncio.create_task(combiner.run(request("a")))
    await turns()
    assert s.calls == [("one", ["key-a"])]  # nothing in flight: no waiting
    later = [asyncio.create_task(combiner.run(request(n))) for n in "bcd"]
    await turns()
    assert s.calls == [("one", ["key-a"])]  # in flight: b, c, d wait
    s.go.set()
    await asyncio.gather(first, *later)
    assert s.calls == [("one", ["key-a"]), ("all", ["key-b", "key-c", "key-d"])]


async def test_when_together_fails_each_runs_alone_and_keeps_its_own_error() -> None:
    s = StandIn(fail_together=RuntimeError("together"))
    combiner = Combiner(s.one, s.all, in_flight=1)
    blocker = asyncio.create_task(combiner.run(request("a")))
    await turns()
    good, bad = (asyncio.create_task(combiner.run(request(n))) for n in ("good", "bad"))
    await turns()
    s.go.set()
    await blocker
    assert await good == ([], [])
    with pytest.raises(ValueError, match="bad alone"):
        await bad
    assert ("all", ["key-good", "key-bad"]) in s.calls
    assert ("one", ["key-good"]) in s.calls and ("one", ["key-bad"]) in s.calls


async def test_an_unavailable_store_fails_them_all_without_trying_each() -> None:
    s = StandIn(fail_together=StoreUnavailable("down"))
    combiner = Combiner(s.one, s.all, in_flight=1)
    blocker = asyncio.create_task(combiner.run(request("a")))
    await turns()
    waiting = [asyncio.create_task(combiner.run(request(n))) for n in "bc"]
    await turns()
    s.go.set()
    await blocker
    for task in waiting:
        with pytest.raises(StoreUnavailable):
            await task
    assert [kind for kind, _ in s.calls] == ["one", "all"]


async def test_a_caller_that_leaves_does_not_stop_the_others() -> None:
    s = StandIn()
    combiner = Combiner(s.one, s.all, in_flight=1)
    blocker = asyncio.create_task(combiner.run(request("a")))
    await turns()
    leaver, stayer = (asyncio.create_task(combiner.run(request(n))) for n in "bc")
    await turns()
    leaver.cancel()
    s.go.set()
    await blocker
    assert await stayer == ([], [])
    assert leaver.cancelled()


async def test_a_combination_cancelled_at_shutdown_cancels_its_waiters() -> None:
    s = StandIn()
    combiner = Combiner(s.one, s.all, in_flight=1)
    waiter = asyncio.create_task(combiner.run(request("a")))
    await turns()
    [running] = combiner._tasks
    running.cancel()
    await turns()
    assert waiter.cancelled()


def test_claims_of_one_shape_go_as_one_and_their_jobs_are_dealt_in_order() -> None:
    rs = [request("a", 1), request("b", 2, worker="other"), request("c", 2), request("d", 1)]
    groups = claim_groups(rs)
    assert [(spec.limit, members) for spec, _, members in groups] == [(4, [0, 2, 3]), (2, [1])]
    jobs = [Job(id=f"j{i}", queue="q", type="t") for i in range(3)]  # fewer than asked
    claimed: list[list[Job]] = [[] for _ in rs]
    deal(rs, [0, 2, 3], jobs, claimed)
    assert [[j.id for j in got] for got in claimed] == [["j0"], [], ["j1", "j2"], []]


# --- PostgreSQL ---


@pytest.fixture
async def engine() -> AsyncIterator[tuple[Engine, PostgresStore]]:
    url = await pgdb.create_database()
    store = PostgresStore(url, pool_size=8)
    await store.open()
    try:
        yield Engine(store, Notifier()), store
    finally:
        await store.close()
        await pgdb.drop_database(url)


async def test_many_workers_acknowledging_and_claiming_at_once_run_each_job_once(
    engine: tuple[Engine, PostgresStore],
) -> None:
    """Sixteen slots acknowledging and claiming at once (their requests go together in the
    PostgreSQL store; how they are grouped is the combiner's own, tested above): every job
    runs once and every acknowledgement lands."""
    eng, store = engine
    await eng.enqueue([JobSpec(queue="q", type="t", payload=i) for i in range(300)])
    runs: dict[str, int] = {}

    async def slot(worker: str) -> None:
        spec = ClaimSpec(["q"], ["t"], 1, 30.0, Worker(worker, "h", 1))
        acks: list[Ack] = []
        while True:
            outcomes, jobs = await eng.ack_and_claim(acks, spec)
            assert len(outcomes) == len(acks)
            for ack, outcome in zip(acks, outcomes, strict=True):
                assert isinstance(outcome, Job), outcome
                assert (outcome.id, outcome.state) == (ack.job_id, State.succeeded)
                assert outcome.result == {"ran": outcome.payload}
            if not jobs:
                return
            for job in jobs:
                runs[job.id] = runs.get(job.id, 0) + 1
            acks = [Ack(j.id, j.lease_token or "", {"ran": j.payload}) for j in jobs]

    await asyncio.gather(*(slot(f"w{k % 2}") for k in range(16)))
    assert len(runs) == 300 and set(runs.values()) == {1}
    [stats] = [s for s in await store.queue_stats() if s.name == "q"]
    assert {k: v for k, v in stats.counts.items() if v} == {"succeeded": 300}
