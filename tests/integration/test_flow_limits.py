"""Queue flow limits (jobq.store.limits, jobq.engine.limits): a queue's concurrency and rate
hold for every kind of claim, on both stores, and change at once.

Each test counts what the store holds (running jobs), not what the engine says it did."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from jobq.engine import Engine, JobSpec
from jobq.engine.specs import Ack
from jobq.errors import InvalidInput
from jobq.model import ClaimSpec, Defaults, Job, JobQuery, QueueLimits, Worker
from jobq.notify import Notifier
from jobq.states import State
from jobq.store.base import Store
from tests.authkit import running_app

WAIT = 20.0


def spec(queues: list[str] | None = ["q"], limit: int = 10, **kw: Any) -> ClaimSpec:  # noqa: B006
    return ClaimSpec(queues, kw.pop("types", None), limit, None, Worker("w", "h", 1), **kw)


async def fill(engine: Engine, n: int, queue: str = "q", **job: Any) -> list[Job]:
    return [j for j, _ in await engine.enqueue([JobSpec(queue=queue, **job) for _ in range(n)])]


async def running(engine: Engine, queue: str = "q") -> int:
    return await engine.store.count_jobs(JobQuery(queues=[queue], states=[State.running]), 10**6)


async def finish(engine: Engine, jobs: list[Job]) -> None:
    for job in jobs:
        assert job.lease_token is not None
        await engine.complete(job.id, job.lease_token, None)


async def test_a_concurrency_limit_caps_every_kind_of_claim(engine: Engine) -> None:
    jobs = await fill(engine, 12, type="a") + await fill(engine, 3, type="b")
    await fill(engine, 5, queue="free")
    await engine.set_limits("q", QueueLimits(concurrency=3))
    first = await engine.claim(spec(limit=2))
    by_type = await engine.claim(spec(types=["b"]))
    assert len(first) == 2 and len(by_type) == 1 and await running(engine) == 3
    assert await engine.claim(spec()) == []
    assert await engine.claim(spec(ids=[jobs[5].id])) == []
    every = await engine.claim(spec(None, limit=20))  # a claim of every queue
    assert {j.queue for j in every} == {"free"} and await running(engine) == 3
    await finish(engine, first)
    named = await engine.claim(spec(ids=[jobs[5].id]))
    assert [j.id for j in named] == [jobs[5].id]
    assert len(await engine.claim(spec(None, limit=20))) == 1  # room for one more
    assert await running(engine) == 3


async def test_a_rate_limit_counts_starts_in_its_period(store: Store) -> None:
    clock = [1_000_000.0]
    engine = Engine(store, Notifier(), Defaults(), clock=lambda: clock[0])
    await fill(engine, 10)
    await engine.set_limits("q", QueueLimits(rate=4, rate_period=60.0))
    first = await engine.claim(spec())
    assert len(first) == 4
    await finish(engine, first)  # finishing frees no start: the rate counts starts
    clock[0] += 30
    assert await engine.claim(spec()) == []
    clock[0] += 31  # the first starts are more than a period ago
    assert len(await engine.claim(spec(limit=3))) == 3
    assert len(await engine.claim(spec())) == 1
    assert await engine.claim(spec()) == []


async def test_both_limits_at_once_take_the_smaller_room(store: Store) -> None:
    clock = [1_000_000.0]
    engine = Engine(store, Notifier(), Defaults(), clock=lambda: clock[0])
    await fill(engine, 10)
    await engine.set_limits("q", QueueLimits(concurrency=2, rate=3, rate_period=10.0))
    first = await engine.claim(spec())
    assert len(first) == 2
    await finish(engine, first)
    assert len(await engine.claim(spec())) == 1  # the rate's third start
    clock[0] += 11
    assert len(await engine.claim(spec())) == 1  # one running: concurrency leaves one


async def test_a_limit_changed_or_removed_takes_effect_at_once(engine: Engine) -> None:
    await fill(engine, 10)
    await engine.set_limits("q", QueueLimits(concurrency=1))
    assert len(await engine.claim(spec())) == 1
    settings = await engine.set_limits("q", QueueLimits(concurrency=4))
    assert settings.limits == QueueLimits(concurrency=4) and not settings.paused
    assert len(await engine.claim(spec())) == 3
    await engine.set_limits("q", QueueLimits())
    assert len(await engine.claim(spec())) == 6  # full speed: the rest
    assert await engine.store.queue_settings(["q"]) == {}


async def test_a_paused_limited_queue_stays_paused_and_keeps_its_limit(engine: Engine) -> None:
    await fill(engine, 5)
    await engine.set_limits("q", QueueLimits(concurrency=2))
    await engine.pause("q")
    assert await engine.claim(spec()) == []
    await engine.resume("q")
    assert len(await engine.claim(spec())) == 2
    [(name, settings)] = (await engine.store.queue_settings()).items()
    assert name == "q" and settings.limits.concurrency == 2 and not settings.paused
    await engine.set_limits("q", QueueLimits())
    await engine.pause("q")
    assert await engine.claim(spec()) == []  # removing the limit kept the pause


async def test_a_parked_claim_gets_the_room_a_finished_job_frees(engine: Engine) -> None:
    await engine.set_limits("q", QueueLimits(concurrency=1))
    [held] = await engine.claim(spec(), wait=0) or await _one(engine)
    waiting = asyncio.create_task(engine.claim(spec(), wait=WAIT))
    await asyncio.sleep(0.2)
    await fill(engine, 1)  # a new job: not handed over, the queue has no room
    await asyncio.sleep(0.2)
    assert not waiting.done() and await running(engine) == 1
    await finish(engine, [held])
    [got] = await asyncio.wait_for(waiting, WAIT)
    assert got.state is State.running and await running(engine) == 1


async def _one(engine: Engine) -> list[Job]:
    await fill(engine, 1)
    return await engine.claim(spec())


async def test_concurrent_claims_never_exceed_the_limit(engine: Engine) -> None:
    await fill(engine, 200)
    await engine.set_limits("q", QueueLimits(concurrency=7))
    claims = await asyncio.gather(*(engine.claim(spec(limit=3)) for _ in range(30)))
    assert sum(len(c) for c in claims) == 7 and await running(engine) == 7


@pytest.mark.parametrize(
    "limits",
    [
        QueueLimits(concurrency=0),
        QueueLimits(concurrency=-1),
        QueueLimits(rate=5),
        QueueLimits(rate_period=5.0),
        QueueLimits(rate=5, rate_period=float("nan")),
        QueueLimits(rate=5, rate_period=0.0),
        QueueLimits(rate=0, rate_period=1.0),
        QueueLimits(concurrency=True),
    ],
)
async def test_bad_limits_are_refused_clearly(engine: Engine, limits: QueueLimits) -> None:
    with pytest.raises(InvalidInput):
        await engine.set_limits("q", limits)
    assert await engine.store.queue_settings() == {}


# --- keyed queues: per-key limits and keys taking turns ---


async def keyed(engine: Engine, key: str | None, n: int, **job: Any) -> list[Job]:
    return await fill(engine, n, concurrency_key=key, **job)


async def running_by_key(engine: Engine) -> dict[str | None, int]:
    jobs = await engine.store.list_jobs(JobQuery(queues=["q"], states=[State.running], limit=500))
    counts: dict[str | None, int] = {}
    for job in jobs:
        counts[job.concurrency_key] = counts.get(job.concurrency_key, 0) + 1
    return counts


async def test_a_per_key_limit_holds_each_key_and_leaves_the_unkeyed_free(engine: Engine) -> None:
    await keyed(engine, None, 2)  # before the queue is keyed: they share the key ''
    await engine.set_limits("q", QueueLimits(per_key=1))
    a, b = await keyed(engine, "a", 3), await keyed(engine, "b", 3)
    await keyed(engine, None, 1)
    first = await engine.claim(spec())
    assert await running_by_key(engine) == {"a": 1, "b": 1, "": 3}
    assert [j.id for j in first if j.concurrency_key == "a"] == [a[0].id]  # a key's oldest
    assert await engine.claim(spec()) == []
    await finish(engine, [j for j in first if j.concurrency_key == "b"])
    [again] = await engine.claim(spec())
    assert again.id == b[1].id
    assert await engine.claim(spec(ids=[a[1].id])) == []  # a named job waits for its key too


async def test_keys_take_turns_and_a_small_key_is_not_starved(engine: Engine) -> None:
    await engine.set_limits("q", QueueLimits(per_key=1000))
    await keyed(engine, "big", 60)
    small = await keyed(engine, "small", 3)
    order = []
    for _ in range(8):
        [job] = await engine.claim(spec(limit=1))
        order.append(job.concurrency_key)
        await finish(engine, [job])
    assert order[:6] == ["big", "small"] * 3 or order[:6] == ["small", "big"] * 3, order
    assert {j.id for j in small} <= {j.id for j in await _done(engine)}


async def _done(engine: Engine) -> list[Job]:
    return await engine.store.list_jobs(JobQuery(queues=["q"], states=[State.succeeded]))


async def test_a_key_with_only_delayed_jobs_keeps_its_turn(store: Store) -> None:
    clock = [1_000_000.0]
    engine = Engine(store, Notifier(), Defaults(), clock=lambda: clock[0])
    await engine.set_limits("q", QueueLimits(per_key=1))
    [later] = await keyed(engine, "k", 1, delay=30.0)
    assert await engine.claim(spec()) == []  # the key has nothing queued: passed over, kept
    clock[0] += 31
    assert await engine.promote_due(clock[0]) == 1
    [job] = await engine.claim(spec())
    assert job.id == later.id


async def test_removing_a_per_key_limit_opens_the_queue(engine: Engine) -> None:
    await engine.set_limits("q", QueueLimits(per_key=1))
    await keyed(engine, "a", 4)
    assert len(await engine.claim(spec())) == 1
    await engine.set_limits("q", QueueLimits())
    assert len(await engine.claim(spec())) == 3


async def test_concurrent_claims_never_exceed_a_key_s_limit(engine: Engine) -> None:
    await engine.set_limits("q", QueueLimits(per_key=2, concurrency=9))
    for key in "abcdef":
        await keyed(engine, key, 10)
    claims = await asyncio.gather(*(engine.claim(spec(limit=2)) for _ in range(20)))
    counts = await running_by_key(engine)
    assert sum(len(c) for c in claims) == 9 == sum(counts.values())
    assert max(counts.values()) <= 2, counts


async def test_a_concurrency_key_is_checked_and_shown(engine: Engine) -> None:
    with pytest.raises(InvalidInput):
        await keyed(engine, "x" * 201, 1)
    [job] = await keyed(engine, "tenant-7", 1)
    assert (await engine.get(job.id)).concurrency_key == "tenant-7"


async def test_an_acknowledgement_s_claim_takes_from_a_limited_queue_within_its_room(
    engine: Engine,
) -> None:
    await fill(engine, 6)
    await engine.set_limits("q", QueueLimits(concurrency=2))
    first = await engine.claim(spec(limit=1))
    acks = [Ack(first[0].id, first[0].lease_token or "", result=None)]
    _, more = await engine.ack_and_claim(acks, spec(limit=5))
    assert len(more) == 2 and await running(engine) == 2


async def test_the_native_api_takes_and_shows_a_concurrency_key(
    store_url: str, tmp_path: Path
) -> None:
    async with running_app(tmp_path, db=store_url) as (app, client):
        await app.state.engine.set_limits("q", QueueLimits(per_key=1))
        one = {"queue": "q", "concurrency_key": "tenant-1"}
        r = await client.post("/api/v1/jobs", json={"jobs": [one, one, {"queue": "q"}]})
        assert r.status_code == 201, r.text
        keys = [job["concurrency_key"] for job in r.json()["jobs"]]
        assert keys == ["tenant-1", "tenant-1", ""]  # the unkeyed share the key ''
        single = await client.post("/api/v1/jobs", json={**one, "concurrency_key": "x" * 201})
        assert single.status_code == 422
        claim = {"queues": ["q"], "max": 5, "worker": {"name": "w"}}
        r = await client.post("/api/v1/claim", json=claim)
        assert r.status_code == 200, r.text
        assert sorted(j["concurrency_key"] for j in r.json()["jobs"]) == ["", "tenant-1"]


# --- what a careless or hostile producer leaves behind stays bounded ---


async def count_rows(store: Store, sql: str) -> int:
    """A count straight from the database behind `store`."""
    url = getattr(store, "url", None)
    if isinstance(url, str):
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            return int(await conn.fetchval(sql))
        finally:
            await conn.close()
    with sqlite3.connect(store.path) as conn:  # type: ignore[attr-defined]
        return int(conn.execute(sql).fetchone()[0])


async def test_keys_in_a_queue_that_is_not_keyed_leave_nothing_behind(engine: Engine) -> None:
    for n in range(3):
        await keyed(engine, f"unique-{n}", 2)
    assert await count_rows(engine.store, "SELECT count(*) FROM queue_keys") == 0
    await engine.set_limits("q", QueueLimits(per_key=1))
    assert await count_rows(engine.store, "SELECT count(*) FROM queue_keys") == 3
    await engine.set_limits("q", QueueLimits(concurrency=5))  # no longer keyed
    assert await count_rows(engine.store, "SELECT count(*) FROM queue_keys") == 0
    assert len(await engine.claim(spec())) == 5


async def test_a_job_enqueued_unkeyed_into_a_keyed_queue_still_runs(engine: Engine) -> None:
    await engine.set_limits("q", QueueLimits(per_key=1))
    await keyed(engine, "k", 1)
    now = engine.clock()
    straggler = JobSpec(queue="q").job("straggler-1", now, Defaults())  # a node that did not
    [(stored, _)] = await engine.store.insert([straggler], now)  # know the queue was keyed
    assert stored.concurrency_key is None
    first = await engine.claim(spec())
    second = await engine.claim(spec())
    assert [j.concurrency_key for j in first + second] == ["k", ""]
    assert second[0].id == "straggler-1"


async def test_a_rate_keeps_a_bounded_count_of_starts(store: Store) -> None:
    clock = [1_000_000.0]
    engine = Engine(store, Notifier(), Defaults(), clock=lambda: clock[0])
    await fill(engine, 300)
    await engine.set_limits("q", QueueLimits(rate=1_000_000, rate_period=64.0))
    for _ in range(300):
        [job] = await engine.claim(spec(limit=1))
        await finish(engine, [job])
        clock[0] += 0.7
    assert await count_rows(store, "SELECT count(*) FROM queue_starts") <= 2 * 64 + 2
    assert await count_rows(store, "SELECT sum(started) FROM queue_starts") >= 64 / 0.7


# --- aging: a low priority is not starved for ever ---


async def test_a_job_waiting_longer_than_the_aging_goes_before_any_priority(store: Store) -> None:
    clock = [1_000_000.0]
    engine = Engine(store, Notifier(), Defaults(), clock=lambda: clock[0])
    await engine.set_limits("q", QueueLimits(aging=60.0))
    [low] = await fill(engine, 1, priority=-5, type="t")
    clock[0] += 30
    await fill(engine, 3, priority=9, type="t")
    first = await engine.claim(spec(limit=1))
    assert first[0].priority == 9  # not yet aged: priority first
    clock[0] += 31  # the low one has waited 61 s
    await fill(engine, 2, priority=9, type="t")
    [aged] = await engine.claim(spec(limit=1, types=["t"]))
    assert aged.id == low.id
    again = await engine.claim(spec(limit=10))
    assert [j.priority for j in again] == [9] * 4  # one each, no job taken twice


async def test_aging_is_checked_and_shown(engine: Engine) -> None:
    with pytest.raises(InvalidInput):
        await engine.set_limits("q", QueueLimits(aging=0.0))
    settings = await engine.set_limits("q", QueueLimits(aging=90.0, concurrency=2))
    assert settings.limits == QueueLimits(concurrency=2, aging=90.0)


async def test_a_weighted_key_takes_its_weight_s_worth_of_jobs_a_turn(engine: Engine) -> None:
    await engine.set_limits("q", QueueLimits(per_key=100, weights=(("gold", 3),)))
    await keyed(engine, "gold", 20)
    await keyed(engine, "tin", 20)
    one_by_one = []
    for _ in range(8):
        [job] = await engine.claim(spec(limit=1))
        one_by_one.append(job.concurrency_key)
    assert one_by_one == ["gold"] * 3 + ["tin"] + ["gold"] * 3 + ["tin"], one_by_one
    batch = await engine.claim(spec(limit=8))
    assert sorted(j.concurrency_key or "" for j in batch) == ["gold"] * 6 + ["tin"] * 2


async def test_weights_need_a_keyed_queue_and_sane_values(engine: Engine) -> None:
    for limits in (
        QueueLimits(weights=(("a", 2),)),
        QueueLimits(per_key=1, weights=(("a", 0),)),
        QueueLimits(per_key=1, weights=(("a", 1001),)),
        QueueLimits(per_key=1, weights=(("x" * 201, 2),)),
    ):
        with pytest.raises(InvalidInput):
            await engine.set_limits("q", limits)
    settings = await engine.set_limits("q", QueueLimits(per_key=1, weights=(("a", 2),)))
    assert settings.limits.weights == (("a", 2),)


async def test_a_per_key_rate_holds_each_key_to_its_starts(store: Store) -> None:
    clock = [1_000_000.0]
    engine = Engine(store, Notifier(), Defaults(), clock=lambda: clock[0])
    await engine.set_limits("q", QueueLimits(key_rate=2, key_rate_period=60.0))
    await keyed(engine, "a", 5)
    await keyed(engine, "b", 5)
    await keyed(engine, None, 3)  # the key '': no per-key limits
    first = await engine.claim(spec(limit=20))
    keys = sorted(j.concurrency_key or "" for j in first)
    assert keys == ["", "", "", "a", "a", "b", "b"]
    await finish(engine, first)  # finishing frees no start
    assert await engine.claim(spec()) == []
    clock[0] += 62
    assert sorted(j.concurrency_key or "" for j in await engine.claim(spec())) == [
        "a", "a", "b", "b",
    ]  # fmt: skip
    assert await count_rows(store, "SELECT count(*) FROM key_starts") <= 2 * 2


async def test_a_per_key_rate_needs_its_period(engine: Engine) -> None:
    with pytest.raises(InvalidInput):
        await engine.set_limits("q", QueueLimits(key_rate=2))
