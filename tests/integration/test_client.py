"""Every method of jobq.Client and jobq.AsyncClient against a real `jobq serve`."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

import jobq
from jobq.client import AckItem, AsyncClient, Client, Event, WorkerId
from jobq.client import errors as e
from tests.conftest import Server

pytestmark = pytest.mark.acceptance


@pytest.fixture
def client(server: Server) -> Client:
    with Client(server.url, timeout=60) as c:
        yield c  # type: ignore[misc]


def test_import_jobq_is_cheap_and_exports_the_client() -> None:
    assert jobq.Client is Client
    assert jobq.StaleLease is e.StaleLease
    with pytest.raises(AttributeError):
        _ = jobq.NoSuchThing  # type: ignore[attr-defined]


def test_enqueue_get_update_list_and_paginate(client: Client) -> None:
    job = client.enqueue("mail", "send", {"to": "ada"}, metadata={"team": "a"}, priority=5)
    assert (job.queue, job.type, job.payload, job.state, job.created) == (
        "mail", "send", {"to": "ada"}, "queued", None)  # fmt: skip
    assert isinstance(job.created_at, datetime)
    later = datetime.now(UTC) + timedelta(hours=1)
    changed = client.update(job.id, priority=9, run_at=later, metadata={"team": "b"})
    assert (changed.priority, changed.state, changed.metadata) == (9, "scheduled", {"team": "b"})
    many = client.enqueue_many([{"queue": "mail", "payload": i} for i in range(5)])
    assert [j.payload for j in many] == list(range(5)) and all(j.created for j in many)
    receipts = client.enqueue_receipts([{"queue": "other", "unique_key": "r"}] * 2)
    assert [(r.state, r.created) for r in receipts] == [("queued", True), ("queued", False)]
    assert receipts[0].id == receipts[1].id and client.get(receipts[0].id).queue == "other"
    page = client.list_jobs(queue="mail", limit=2)
    assert len(page.jobs) == 2 and page.next_cursor is not None
    assert len(list(client.iter_jobs(queue="mail", limit=2))) == 6
    assert [j.id for j in client.list_jobs(metadata={"team": "b"}).jobs] == [job.id]
    assert client.list_jobs(state="scheduled").jobs[0].id == job.id
    assert client.get(job.id).priority == 9


def test_claim_heartbeat_complete_fail_release_and_attempts(client: Client) -> None:
    a, b, c = (client.enqueue("w", payload=i, max_attempts=1) for i in range(3))
    claimed = client.claim(["w"], WorkerId("w1", "host", 1), max=3, lease_seconds=30)
    assert [j.id for j in claimed] == [a.id, b.id, c.id]
    ja, jb, jc = claimed
    assert all(j.lease_token for j in claimed)
    beat = client.heartbeat(ja.id, ja.lease_token, {"step": 1, "total": 2})
    assert (beat.state, beat.cancel_requested) == ("running", False)
    assert client.get(ja.id).progress == {"step": 1, "total": 2}
    assert client.complete(ja.id, ja.lease_token, {"ok": 1}).state == "succeeded"
    failed = client.fail(jb.id, jb.lease_token, {"code": "x", "message": "m"}, exit_code=3)
    assert (failed.state, failed.exit_code) == ("failed", 3)
    assert client.release(jc.id, jc.lease_token).state == "queued"
    assert [a.outcome for a in client.attempts(ja.id)] == ["succeeded"]
    assert client.claim(["empty"], "w1", wait=0.1) == []


def test_ack_in_a_batch_reports_each_item(client: Client) -> None:
    for i in range(2):
        client.enqueue("acks", payload=i, max_attempts=1)
    x, y = client.claim(["acks"], "w", max=2)
    results = client.ack([
        AckItem(x.id, x.lease_token, result=1),
        AckItem(y.id, y.lease_token, error={"code": "bad", "message": "no"}),
        AckItem(y.id, "not-the-token", result=2),
    ])  # fmt: skip
    assert [(r.ok, r.state) for r in results[:2]] == [(True, "succeeded"), (True, "failed")]
    assert not results[2].ok and results[2].error is not None
    assert results[2].error["code"] == "stale_lease"


def test_cancel_retry_delete_and_delete_many(client: Client) -> None:
    job = client.enqueue("c")
    cancelled = client.cancel(job.id, reason="not needed")
    assert cancelled.state == "cancelled"
    again = client.retry(job.id)
    assert again.retry_of == job.id and again.state == "queued"
    with pytest.raises(e.Conflict):
        client.delete(again.id)
    client.delete(job.id)
    with pytest.raises(e.NotFound):
        client.get(job.id)
    results = client.delete_many([again.id, "missing"])
    assert [(r.deleted, (r.error or {}).get("code")) for r in results] == [
        (False, "conflict"), (False, "not_found")]  # fmt: skip


def test_get_with_wait_returns_once_the_job_finished(client: Client, server: Server) -> None:
    job = client.enqueue("wait")

    def finish() -> None:
        with Client(server.url) as other:
            [held] = other.claim(["wait"], "w", wait=30)
            other.complete(held.id, held.lease_token, "done")

    thread = threading.Thread(target=finish)
    thread.start()
    done = client.get(job.id, wait=60)
    thread.join()
    assert (done.state, done.result) == ("succeeded", "done")


def test_logs_append_read_text_and_follow(client: Client) -> None:
    job = client.enqueue("logs")
    assert client.append_logs(job.id, ["one", {"text": "two", "stream": "stderr"}]) == 2
    page = client.logs(job.id)
    assert [(x.stream, x.text) for x in page.entries] == [("stdout", "one"), ("stderr", "two")]
    assert page.last_seq == 2
    assert [x.text for x in client.logs(job.id, tail=1).entries] == ["two"]
    assert client.log_text(job.id).splitlines()[1].endswith(" stderr two")
    client.cancel(job.id)
    assert [x.text for x in client.follow_logs(job.id)] == ["one", "two"]


def test_queues_pause_resume_workers_and_health(client: Client) -> None:
    client.enqueue("q1")
    client.claim(["q1", "q2"], WorkerId("watcher"), wait=0)
    client.pause("q1")
    assert {q.name: q.paused for q in client.queues()}["q1"] is True
    client.resume("q1")
    assert {q.name: q.paused for q in client.queues()}["q1"] is False
    assert "watcher" in [w.name for w in client.workers()]
    assert client.healthz() is True


def test_problems_while_a_queue_is_paused_and_gone_once_resumed(client: Client) -> None:
    jobs = [client.enqueue("stuck") for _ in range(2)]
    client.pause("stuck")
    [problem] = [p for p in client.problems() if p.queue == "stuck"]
    assert (problem.kind, problem.job_count, problem.type) == ("queue_paused", 2, None)
    assert sorted(problem.jobs) == sorted(j.id for j in jobs)
    assert client.problem(problem.id) == problem
    client.resume("stuck")
    assert [p for p in client.problems() if p.queue == "stuck"] == []
    with pytest.raises(e.NotFound):
        client.problem(problem.id)


def test_events_stream_transitions(client: Client, server: Server) -> None:
    seen: list[Event] = []

    def watch() -> None:
        with Client(server.url) as other:
            for event in other.events():
                seen.append(event)
                return

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    for _ in range(200):  # the stream may open after the first enqueue: keep producing
        job = client.enqueue("events")
        thread.join(0.1)
        if seen:
            break
    assert seen and seen[0].event == "transition"
    assert seen[0].data["queue"] == "events" and seen[0].data["to"] == "queued"
    assert job.queue == "events"


def test_errors_map_to_the_exception_tree(client: Client) -> None:
    with pytest.raises(e.NotFound) as not_found:
        client.get("no-such-job")
    assert not_found.value.status == 404 and not_found.value.details == {"id": "no-such-job"}
    with pytest.raises(e.InvalidRequest) as invalid:
        client.enqueue(priority=2**40)
    assert invalid.value.code == "invalid"
    job = client.enqueue("stale", max_attempts=1)
    [held] = client.claim(["stale"], "w")
    with pytest.raises(e.StaleLease):
        client.heartbeat(held.id, "wrong-token")
    client.complete(held.id, held.lease_token)
    with pytest.raises(e.Conflict):
        client.cancel(job.id)
    with pytest.raises(e.TransportError), Client("http://127.0.0.1:9", timeout=2) as dead:
        dead.healthz()


async def test_async_client_covers_the_same_calls(server: Server) -> None:
    async with AsyncClient(server.url, timeout=60) as client:
        assert await client.healthz()
        job = await client.enqueue("aq", "t", {"n": 1})
        [more] = await client.enqueue_many([{"queue": "aq", "payload": 2}])
        [receipt] = await client.enqueue_receipts([{"queue": "aq3", "delay": 60}])
        assert (receipt.state, receipt.created) == ("scheduled", True)
        assert (await client.get(receipt.id)).queue == "aq3"
        assert (await client.update(more.id, priority=3)).priority == 3
        assert len([j async for j in client.iter_jobs(queue="aq", limit=1)]) == 2
        assert len((await client.list_jobs(queue="aq")).jobs) == 2
        held = await client.claim(["aq"], "aw", max=2, wait=1)
        first, second = held
        assert first.id == more.id  # higher priority first
        await client.heartbeat(first.id, first.lease_token)
        await client.append_logs(first.id, ["async line"])
        assert [x.text for x in (await client.logs(first.id)).entries] == ["async line"]
        assert "async line" in await client.log_text(first.id)
        await client.complete(first.id, first.lease_token, 1)
        assert [x.text async for x in client.follow_logs(first.id)] == ["async line"]
        await client.release(second.id, second.lease_token)
        [again] = await client.claim(["aq"], "aw")
        await client.fail(again.id, again.lease_token, {"code": "x"}, retryable=False)
        results = await client.ack([AckItem(again.id, again.lease_token, result=1)])
        assert not results[0].ok
        assert [a.outcome for a in await client.attempts(again.id)] == ["failed"]
        assert (await client.get(job.id, wait=5)).state == "failed"
        assert (await client.retry(job.id)).retry_of == job.id
        await client.pause("aq")
        await client.resume("aq")
        assert "aq" in [q.name for q in await client.queues()]
        assert "aw" in [w.name for w in await client.workers()]
        await client.pause("aq")
        [paused] = [p for p in await client.problems() if p.queue == "aq"]
        assert (await client.problem(paused.id)).kind == "queue_paused"
        await client.resume("aq")
        other = await client.enqueue("aq2")
        assert (await client.cancel(other.id)).state == "cancelled"
        await client.delete(other.id)
        assert [d.deleted for d in await client.delete_many([job.id])] == [True]
        with pytest.raises(e.NotFound):
            await client.get(other.id)


def test_ack_and_claim_stores_outcomes_then_claims_in_one_request(client: Client) -> None:
    first, second = (client.enqueue("piggy", payload=i, max_attempts=1) for i in range(2))
    [held] = client.claim(["piggy"], "pw")
    assert held.id == first.id
    items = [AckItem(held.id, held.lease_token, result="one"), AckItem(second.id, "no-token")]
    results, jobs = client.ack_and_claim(items, ["piggy"], "pw", max=5)
    assert [(r.id, r.ok, r.state) for r in results] == [
        (first.id, True, "succeeded"), (second.id, False, None)]  # fmt: skip
    assert results[1].error is not None and results[1].error["code"] == "stale_lease"
    assert [j.id for j in jobs] == [second.id] and jobs[0].lease_token
    assert client.get(first.id).result == "one"
    # nothing left to claim: still 200 with the results (a plain claim would answer 204)
    results, jobs = client.ack_and_claim([AckItem(second.id, jobs[0].lease_token)],
                                         ["piggy"], "pw", wait=0.1)  # fmt: skip
    assert [(r.ok, r.state) for r in results] == [(True, "succeeded")] and jobs == []


async def test_async_client_speaks_errors_streams_and_ack_and_claim(server: Server) -> None:
    async with AsyncClient(server.url, timeout=60) as client:
        with pytest.raises(e.NotFound) as not_found:
            await client.get("no-such-job")
        assert not_found.value.details == {"id": "no-such-job"}
        with pytest.raises(e.InvalidRequest) as huge:  # sent (orjson refuses it), then refused
            await client.enqueue("big", payload={"n": 2**70})
        assert "64 bits" in str(huge.value)
        big = await client.enqueue("big", payload={1: "int key"})  # orjson refuses; json not
        assert big.payload == {"1": "int key"}
        assert (await client.list_jobs(queue="big", state=["queued"])).jobs[0].id == big.id
        [held] = await client.claim(["big"], WorkerId("aw2", "h", 7))
        results, jobs = await client.ack_and_claim(
            [AckItem(held.id, held.lease_token, result=True)], ["big"], "aw2", wait=0.1
        )
        assert [r.state for r in results] == ["succeeded"] and jobs == []
        long_line = "x" * 200_000  # longer than aiohttp's own line limit
        logged = await client.enqueue("big")
        await client.append_logs(logged.id, [long_line, "short"])
        await client.cancel(logged.id)
        assert [x.text async for x in client.follow_logs(logged.id)] == [long_line, "short"]
    async with AsyncClient("http://127.0.0.1:9", timeout=2) as dead:
        with pytest.raises(e.TransportError):
            await dead.healthz()
