"""The store contract: what every store must do, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jobq.engine import Engine, JobSpec
from jobq.engine.rules import complete, due, fail, heartbeat, release
from jobq.errors import Conflict, NotFound, StaleLease
from jobq.model import ClaimSpec, Job, JobQuery, Plan, Step, Worker
from jobq.notify import Notifier
from jobq.states import TERMINAL, State
from jobq.store.base import Store

W = Worker("w1", "host-a", 42)


def make_engine(store: Store) -> Engine:
    return Engine(store, Notifier())


def spec(queue: str = "q", **kw: object) -> JobSpec:
    return JobSpec(queue=queue, **kw)  # type: ignore[arg-type]


def claim_spec(*queues: str, limit: int = 10, types: list[str] | None = None) -> ClaimSpec:
    return ClaimSpec(list(queues) or ["q"], types, limit, 30.0, W)


async def test_insert_then_get_round_trips_every_field(store: Store) -> None:
    engine = make_engine(store)
    payload = {"text": "héllo \u0000 ✓", "n": [1, 2.5, None, True], "nested": {"b": 1, "a": 2}}
    [(job, created)] = await engine.enqueue(
        [spec(type="t", payload=payload, metadata={"k": "v"}, priority=7, deadline_seconds=9.0,
              callback_url="https://example.com/cb", unique_key="u1", owner="me")]
    )  # fmt: skip
    assert created and job.seq > 0
    loaded = await store.get(job.id)
    assert loaded == job
    assert await store.get("missing") is None


async def test_seq_increases_in_insert_order(store: Store) -> None:
    engine = make_engine(store)
    inserted = await engine.enqueue([spec(payload=i) for i in range(50)])
    seqs = [job.seq for job, _ in inserted]
    assert seqs == sorted(seqs) and len(set(seqs)) == 50


async def test_unique_key_returns_the_live_job_until_it_finishes(store: Store) -> None:
    engine = make_engine(store)
    [(first, _)] = await engine.enqueue([spec(unique_key="k")])
    [(again, created)] = await engine.enqueue([spec(unique_key="k", payload="other")])
    assert not created and again.id == first.id
    both = await engine.enqueue([spec(unique_key="k2"), spec(unique_key="k2")])
    assert [c for _, c in both] == [True, False] and both[0][0].id == both[1][0].id
    [claimed] = await engine.claim(claim_spec(limit=1))
    assert claimed.id == first.id
    await engine.complete(claimed.id, claimed.lease_token or "", None)
    [(fresh, created)] = await engine.enqueue([spec(unique_key="k")])
    assert created and fresh.id != first.id


async def test_claim_takes_highest_priority_then_oldest_across_queues(store: Store) -> None:
    engine = make_engine(store)
    await engine.enqueue(
        [spec("a", priority=1, payload="a1"), spec("b", priority=5, payload="b5"),
         spec("a", priority=5, payload="a5"), spec("b", payload="b0")]
    )  # fmt: skip
    jobs = await engine.claim(claim_spec("a", "b", limit=3))
    assert [j.payload for j in jobs] == ["b5", "a5", "a1"]
    assert all(j.state == State.running and j.attempt == 1 and j.lease_token for j in jobs)
    assert len({j.lease_token for j in jobs}) == 3
    [last] = await engine.claim(claim_spec("a", "b", limit=3))
    assert last.payload == "b0"
    assert await engine.claim(claim_spec("a", "b")) == []


async def test_claim_skips_paused_queues_and_filters_types(store: Store) -> None:
    engine = make_engine(store)
    await engine.enqueue([spec("a", type="x"), spec("a", type="y"), spec("p")])
    await engine.pause("p")
    assert await engine.claim(claim_spec("p")) == []
    [job] = await engine.claim(claim_spec("a", "p", types=["y"]))
    assert job.type == "y"
    await engine.resume("p")
    assert len(await engine.claim(claim_spec("p"))) == 1
    assert await store.queue_settings() == {}


async def test_claim_of_named_jobs_takes_only_those_that_are_queued(store: Store) -> None:
    engine = make_engine(store)
    inserted = await engine.enqueue([spec(priority=p) for p in (0, 5, 9)] + [spec("paused")])
    low, mid, high, parked = (job for job, _ in inserted)
    await engine.pause("paused")
    named = ClaimSpec(["q", "paused"], None, 10, 30.0, W, ids=[low.id, mid.id, parked.id])
    claimed = await engine.claim(named)
    assert [j.id for j in claimed] == [mid.id, low.id]  # best first; not the paused one
    assert all(j.state == State.running and j.lease_token for j in claimed)
    assert len(await store.attempts(low.id)) == 1
    assert await engine.claim(named) == []  # already held
    assert [j.id for j in await engine.claim(claim_spec())] == [high.id]


async def test_claim_opens_an_attempt_and_records_the_worker(store: Store) -> None:
    engine = make_engine(store)
    await engine.enqueue([spec()])
    [job] = await engine.claim(claim_spec())
    [attempt] = await store.attempts(job.id)
    assert attempt.attempt == 1 and attempt.worker == W and attempt.finished_at is None
    [seen] = await store.workers()
    assert (seen.name, seen.host, seen.pid, seen.jobs_held, seen.queues) == ("w1", "host-a", 42,
                                                                            1, ["q"])  # fmt: skip


async def test_transition_checks_the_token_and_the_state_table(store: Store) -> None:
    engine = make_engine(store)
    [_, (waiting, _)] = await engine.enqueue([spec(), spec()])
    [job] = await engine.claim(claim_spec(limit=1))
    now = engine.clock()
    results = await store.transition(
        [
            Step(job.id, lambda j: complete(j, 1, now), "wrong-token"),
            Step("missing", lambda j: complete(j, 1, now)),
            Step(waiting.id, lambda j: due(j, now)),
            Step(job.id, lambda j: complete(j, "done", now), job.lease_token),
            Step(job.id, lambda j: complete(j, "again", now), job.lease_token),
        ],
        now,
    )
    assert isinstance(results[0], StaleLease)
    assert isinstance(results[1], NotFound)
    assert isinstance(results[2], Conflict)  # queued: `due` is only allowed from scheduled
    done = results[3]
    assert not isinstance(done, Exception) and done.job.state == State.succeeded
    assert done.previous == State.running
    assert isinstance(results[4], StaleLease)  # the step sees the batch's earlier move
    stored = await store.get(job.id)
    assert stored is not None and stored.result == "done" and stored.lease_token is None
    [attempt] = await store.attempts(job.id)
    assert attempt.outcome == "succeeded" and attempt.finished_at is not None


async def test_a_batch_of_steps_of_every_shape_stores_each_job_as_its_step_returned_it(
    store: Store,
) -> None:
    """Steps that change different columns, in one transition, are written grouped by what
    they change: each stored job must still equal the job its step returned, every attempt
    must be closed with its own outcome and every finished job with a callback URL queued."""
    engine = make_engine(store)
    hook = "https://example.com/hook"
    await engine.enqueue([spec(), spec(), spec(), spec(callback_url=hook, max_attempts=1),
                          spec(), spec(callback_url=hook), spec()])  # fmt: skip
    jobs = sorted(await engine.claim(claim_spec()), key=lambda j: j.seq)
    assert len(jobs) == 7
    now = engine.clock()
    error = {"code": "boom", "message": "it broke"}
    decisions: list[tuple[int, Callable[[Job], Plan]]] = [
        (0, lambda j: complete(j, {"n": 0}, now)),
        (1, lambda j: complete(j, [1, "one"], now)),
        (2, lambda j: fail(j, error, True, 3, now)),  # retried later
        (3, lambda j: fail(j, error, True, None, now)),  # no attempt left: failed, called back
        (4, lambda j: heartbeat(j, now, {"done": 1})),
        (4, lambda j: complete(j, "after progress", now)),  # the same job again
        (5, lambda j: complete(j, None, now)),
        (6, lambda j: release(j)),
    ]
    results = await store.transition(
        [Step(jobs[i].id, decide, jobs[i].lease_token) for i, decide in decisions], now
    )
    moved = {}
    for result in results:
        assert not isinstance(result, Exception), result
        moved[result.job.id] = result.job
    states = [moved[j.id].state for j in jobs]
    assert states == [State.succeeded, State.succeeded, State.scheduled, State.failed,
                      State.succeeded, State.succeeded, State.queued]  # fmt: skip
    for job in jobs:
        assert await store.get(job.id) == moved[job.id]
    outcomes = ["succeeded", "succeeded", "failed", "failed", "succeeded", "succeeded",
                "released"]  # fmt: skip
    for job, outcome in zip(jobs, outcomes, strict=True):
        [attempt] = await store.attempts(job.id)
        assert attempt.outcome == outcome and attempt.finished_at == now
        assert attempt.error == (error if outcome == "failed" else None)
    called = await store.due_callbacks(now + 1, 10)
    assert sorted(c.job_id for c in called) == sorted([jobs[3].id, jobs[5].id])


async def test_delete_reports_each_id(store: Store) -> None:
    engine = make_engine(store)
    [(live, _), (other, _)] = await engine.enqueue([spec(), spec()])
    await engine.cancel(other.id)
    await engine.append_logs(other.id, [(None, "stdout", "line")])
    result = await store.delete([live.id, other.id, "missing"], TERMINAL)
    assert result == [State.queued, State.cancelled, None]
    assert await store.get(live.id) is not None and await store.get(other.id) is None
    assert await store.logs(other.id) == []


async def test_purge_removes_expired_jobs_with_their_rows(store: Store) -> None:
    engine = make_engine(store)
    await engine.enqueue([spec(result_ttl=0.0), spec(result_ttl=0.0), spec()])
    jobs = await engine.claim(claim_spec(limit=3))
    for job in jobs:
        await engine.append_logs(job.id, [(None, "stdout", "x")])
        await engine.complete(job.id, job.lease_token or "", None)
    later = engine.clock() + 1
    assert await store.purge(later, 1) == 1
    assert await store.purge(later, 100) == 1
    assert await store.purge(later, 100) == 0
    remaining = await store.list_jobs(JobQuery())
    assert len(remaining) == 1 and remaining[0].purge_at is not None
    gone = [j for j in jobs if j.id != remaining[0].id]
    for job in gone:
        assert await store.attempts(job.id) == [] and await store.logs(job.id) == []


async def test_logs_append_in_order_with_tail_and_after(store: Store) -> None:
    engine = make_engine(store)
    [(job, _)] = await engine.enqueue([spec()])
    assert await engine.append_logs(job.id, [(1.0, "stdout", "a"), (2.0, "stderr", "b")]) == 2
    assert await engine.append_logs(job.id, [(3.0, "stdout", "c")]) == 3
    entries = await store.logs(job.id)
    assert [(e.seq, e.text, e.stream) for e in entries] == [
        (1, "a", "stdout"), (2, "b", "stderr"), (3, "c", "stdout")]  # fmt: skip
    assert [e.text for e in await store.logs(job.id, tail=2)] == ["b", "c"]
    assert [e.text for e in await store.logs(job.id, after=2)] == ["c"]
    assert [e.text for e in await store.logs(job.id, limit=1)] == ["a"]


async def test_listing_filters_and_pages_by_keyset(store: Store) -> None:
    engine = make_engine(store)
    await engine.enqueue([spec("a", priority=i % 3, metadata={"tenant": f"t{i % 2}"})
                          for i in range(10)] + [spec("b")])  # fmt: skip
    only_t1 = await store.list_jobs(JobQuery(queues=["a"], metadata={"tenant": "t1"}))
    assert len(only_t1) == 5 and all(j.metadata["tenant"] == "t1" for j in only_t1)
    seen: list[Job] = []
    after = None
    while True:
        page = await store.list_jobs(
            JobQuery(queues=["a"], sort="priority", descending=True, limit=3, after=after)
        )
        if not page:
            break
        seen += page
        after = (page[-1].priority, page[-1].seq)
    assert len(seen) == 10 and len({j.id for j in seen}) == 10
    assert [j.priority for j in seen] == sorted((j.priority for j in seen), reverse=True)
    states = await store.list_jobs(JobQuery(states=[State.queued], limit=100))
    assert len(states) == 11


async def test_callback_outbox_retries_then_gives_up(store: Store) -> None:
    engine = make_engine(store)
    [(job, _)] = await engine.enqueue([spec(callback_url="https://example.com/hook")])
    [claimed] = await engine.claim(claim_spec())
    await engine.complete(claimed.id, claimed.lease_token or "", None)
    now = engine.clock() + 1
    [callback] = await store.due_callbacks(now, 10)
    assert (callback.job_id, callback.url, callback.attempts) == (job.id, job.callback_url, 0)
    await store.callback_failed(callback.id, now + 5, "refused")
    assert await store.due_callbacks(now + 1, 10) == []
    [again] = await store.due_callbacks(now + 6, 10)
    assert again.id == callback.id and again.attempts == 1
    await store.callback_failed(again.id, None, "gave up")
    assert await store.due_callbacks(now + 10_000, 10) == []


async def test_next_due_is_the_earliest_pending_duty(store: Store) -> None:
    engine = make_engine(store)
    assert await store.next_due() is None
    now = engine.clock()
    await engine.enqueue([spec(delay=100.0)])
    due_at = await store.next_due()
    assert due_at is not None and now + 99 < due_at < now + 101
    await engine.enqueue([spec(lease_seconds=10.0)])
    [job] = await engine.claim(ClaimSpec(["q"], None, 1, None, W))
    assert await store.next_due() == job.lease_expires_at
    assert await store.due_scheduled(now + 200, 10) != []
    assert await store.overdue_running(now + 20, 10) == [job.id]


async def test_queue_stats_count_each_state(store: Store) -> None:
    engine = make_engine(store)
    await engine.enqueue([spec("a"), spec("a"), spec("a", delay=60.0), spec("b")])
    await engine.claim(claim_spec("a", limit=1))
    stats = {s.name: s for s in await store.queue_stats()}
    assert stats["a"].counts["queued"] == 1 and stats["a"].counts["running"] == 1
    assert stats["a"].counts["scheduled"] == 1 and stats["a"].oldest_queued_at is not None
    assert stats["b"].counts["queued"] == 1 and not stats["b"].paused


async def test_the_oldest_queued_job_of_each_queue_is_the_first_come_still_waiting(
    store: Store,
) -> None:
    engine = make_engine(store)
    [(first, _)] = await engine.enqueue([spec("a", priority=-5)])
    engine.clock = lambda: first.created_at + 10  # type: ignore[method-assign]
    [(second, _), _, (other, _)] = await engine.enqueue(
        [spec("a", priority=5), spec("a", delay=60.0), spec("b")]
    )
    oldest = {s.name: s.oldest_queued_at for s in await store.queue_stats()}
    assert oldest == {"a": first.created_at, "b": other.created_at}
    [claimed] = await engine.claim(claim_spec("a", limit=1))  # the higher priority: second
    assert claimed.id == second.id
    assert {s.name: s.oldest_queued_at for s in await store.queue_stats()}["a"] == first.created_at
    await engine.claim(claim_spec("a", limit=1))
    assert {s.name: s.oldest_queued_at for s in await store.queue_stats()}["a"] is None


@pytest.mark.parametrize("limit", [1, 7])
async def test_claim_hands_out_at_most_the_limit_with_distinct_tokens(
    store: Store, limit: int
) -> None:
    engine = make_engine(store)
    await engine.enqueue([spec() for _ in range(20)])
    now = engine.clock()
    jobs = await store.claim(claim_spec(limit=limit), "key", now)
    assert len(jobs) == limit
    assert {j.lease_token for j in jobs} == {f"key.{j.seq}" for j in jobs}


async def test_workers_not_seen_since_a_time_are_forgotten(store: Store) -> None:
    now = 1_800_000_000.0
    await store.touch_worker(Worker("gone", "h", 1), ["q"], now - 3 * 86400)
    await store.touch_worker(Worker("recent", "h", 2), ["q"], now - 60)
    assert await store.forget_workers(now - 86400) == 1
    assert [w.name for w in await store.workers()] == ["recent"]
    assert await store.forget_workers(now - 86400) == 0
