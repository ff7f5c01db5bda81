"""Which jobs a claim leases, over every store: the best across queues and types, never a paused
queue's, and the worker recorded (at most once a second while it keeps claiming)."""

from __future__ import annotations

from jobq.engine import Engine, JobSpec
from jobq.model import ClaimSpec, Worker
from jobq.notify import Notifier
from jobq.store.base import Store
from jobq.store.sqlite.claim import MAX_PAIRS

W = Worker("w", "h", 7)


def spec(queue: str, kind: str, priority: int = 0) -> JobSpec:
    return JobSpec(queue=queue, type=kind, priority=priority)


async def enqueue(engine: Engine, *specs: JobSpec) -> list[str]:
    return [job.id for job, _ in await engine.enqueue(list(specs))]


async def test_a_claim_takes_the_best_across_queues_and_types(store: Store):
    engine = Engine(store, Notifier())
    ids = await enqueue(
        engine, spec("a", "x", 1), spec("b", "y", 5), spec("a", "z", 5), spec("b", "x", 3),
        spec("a", "other", 9), spec("c", "x", 9),
    )  # fmt: skip
    claim = ClaimSpec(["a", "b"], ["x", "y", "z"], 3, None, W)
    taken = await engine.claim(claim)
    # priority first, then the older job; "other" and queue c were not asked for
    assert [j.id for j in taken] == [ids[1], ids[2], ids[3]]
    assert [j.id for j in await engine.claim(claim)] == [ids[0]]
    assert await engine.claim(claim) == []


async def test_a_claim_skips_paused_queues(store: Store):
    engine = Engine(store, Notifier())
    ids = await enqueue(engine, spec("a", "x", 9), spec("b", "x", 1))
    await engine.pause("a")
    taken = await engine.claim(ClaimSpec(["a", "b"], ["x", "y"], 5, None, W))
    assert [j.id for j in taken] == [ids[1]]
    await engine.resume("a")
    assert [j.id for j in await engine.claim(ClaimSpec(["a"], None, 5, None, W))] == [ids[0]]


async def test_a_claim_over_more_pairs_than_one_statement_holds(store: Store):
    engine = Engine(store, Notifier())
    kinds = [f"t{i}" for i in range(MAX_PAIRS + 5)]
    ids = await enqueue(engine, spec("q", kinds[-1], 2), spec("q", kinds[0], 4))
    taken = await engine.claim(ClaimSpec(["q"], kinds, 5, None, W))
    assert [j.id for j in taken] == [ids[1], ids[0]]


async def test_claims_record_the_worker_and_its_new_queues(store: Store):
    engine = Engine(store, Notifier())
    await engine.claim(ClaimSpec(["a"], None, 1, None, W))
    [seen] = await store.workers()
    assert seen.queues == ["a"]
    await engine.claim(ClaimSpec(["a", "b"], None, 1, None, W))  # within the second
    [seen] = await store.workers()
    assert seen.queues == ["a", "b"]


async def test_a_claim_of_every_queue_takes_what_a_claim_listing_them_all_takes(store: Store):
    engine = Engine(store, Notifier())
    ids = await enqueue(
        engine, spec("a", "x", 1), spec("b", "y", 5), spec("c", "x", 5), spec("a", "z", 5),
        spec("p", "x", 9), spec("b", "x", 3), spec("c", "y", 0), spec("d", "x", 5),
    )  # fmt: skip
    await engine.pause("p")
    await engine.enqueue([JobSpec(queue="a", type="x", priority=99, delay=3600)])
    every = ClaimSpec(None, None, 2, None, W)
    listed = ClaimSpec(["a", "b", "c", "d", "p"], None, 2, None, W)
    taken = []
    for claim in (every, listed, every, listed):
        taken += [j.id for j in await engine.claim(claim)]
    # priority first, then the older job, from either claim; neither takes the paused queue's
    # job or the delayed one
    assert taken == [ids[1], ids[2], ids[3], ids[7], ids[5], ids[0], ids[6]]
    assert await engine.claim(every) == []
    await engine.resume("p")
    assert [j.id for j in await engine.claim(every)] == [ids[4]]


async def test_a_claim_of_every_queue_takes_only_the_types_asked_for(store: Store):
    engine = Engine(store, Notifier())
    ids = await enqueue(
        engine, spec("a", "x", 1), spec("b", "y", 5), spec("c", "z", 7), spec("b", "x", 3)
    )
    taken = await engine.claim(ClaimSpec(None, ["x", "y"], 5, None, W))
    assert [j.id for j in taken] == [ids[1], ids[3], ids[0]]
    assert [j.id for j in await engine.claim(ClaimSpec(None, None, 5, None, W))] == [ids[2]]


async def test_a_claim_of_every_queue_records_its_worker_as_asking_for_every_queue(
    store: Store,
):
    engine = Engine(store, Notifier())
    await enqueue(engine, *(spec(f"q{i}", "x") for i in range(50)))
    await engine.claim(ClaimSpec(None, None, 1, None, W))
    [seen] = await store.workers()
    assert seen.queues is None  # no list of queues, however many there are
    await engine.claim(ClaimSpec(["q1"], None, 1, None, W))  # within the second: other queues
    [seen] = await store.workers()
    assert seen.queues == ["q1"]
