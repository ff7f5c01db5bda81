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
