"""Snooze: a worker hands its job back to run later without using an attempt, on every store
(the engine's rules through the store's generic transition) and through the native API."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobq.engine import Ack, Engine, JobSpec
from jobq.engine.rules import MAX_SNOOZE_SECONDS
from jobq.errors import InvalidInput, StaleLease
from jobq.model import ClaimSpec, Worker
from jobq.states import State
from tests.authkit import running_app
from tests.integration.test_metrics import scrape, value

WORKER = {"name": "w1", "host": "h", "pid": 1}


class Clock:
    """The engine's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def spec() -> ClaimSpec:
    return ClaimSpec(["q"], None, 1, None, Worker("w", "host", 1))


async def one(engine: Engine, **kw: Any) -> str:
    [(job, _)] = await engine.enqueue([JobSpec(queue="q", **kw)])
    return job.id


async def test_snoozing_keeps_the_attempt_and_waits_for_its_run_at(engine: Engine) -> None:
    clock = Clock()
    engine.clock = clock
    job_id = await one(engine, max_attempts=1)
    for _ in range(3):
        [held] = await engine.claim(spec())
        assert held.attempt == 1
        snoozed = await engine.snooze(held.id, held.lease_token or "", 30)
        assert (snoozed.state, snoozed.attempt, snoozed.lease_token) == (State.scheduled, 0, None)
        assert snoozed.run_at == pytest.approx(clock.now + 30)
        [attempt] = await engine.attempts(job_id)
        assert attempt.outcome == "snoozed" and attempt.error is None
        assert await engine.claim(spec()) == []  # not before its run_at
        assert await engine.promote_due(clock.now + 29) == 0
        clock.now += 30
        assert await engine.promote_due(clock.now) == 1
    [held] = await engine.claim(spec())
    done = await engine.complete(held.id, held.lease_token or "", "ok")
    assert (done.state, done.attempt, done.result) == (State.succeeded, 1, "ok")
    assert [a.outcome for a in await engine.attempts(job_id)] == ["succeeded"]


async def test_a_snooze_of_no_seconds_queues_the_job_at_once(engine: Engine) -> None:
    job_id = await one(engine, max_attempts=1)
    [held] = await engine.claim(spec())
    with engine.follow_events() as news:
        snoozed = await engine.snooze(held.id, held.lease_token or "", 0)
        events = news.drain()
    assert (snoozed.state, snoozed.attempt) == (State.queued, 0)
    assert [(e["event"], e["from"], e["to"]) for e in events] == [
        ("snooze_now", "running", "queued")]  # fmt: skip
    [again] = await engine.claim(spec())
    assert again.id == job_id and again.attempt == 1


async def test_a_snooze_until_a_time_runs_then_or_at_once_if_past(engine: Engine) -> None:
    clock = Clock()
    engine.clock = clock
    await one(engine)
    [held] = await engine.claim(spec())
    with engine.follow_events() as news:
        later = await engine.snooze(held.id, held.lease_token or "", until=clock.now + 90)
        [event] = news.drain()
    assert later.state == State.scheduled and later.run_at == pytest.approx(clock.now + 90)
    assert (event["event"], event["from"], event["to"]) == ("snooze", "running", "scheduled")
    clock.now += 90
    await engine.promote_due(clock.now)
    [held] = await engine.claim(spec())
    past = await engine.snooze(held.id, held.lease_token or "", until=clock.now - 5)
    assert past.state == State.queued and past.run_at == pytest.approx(clock.now)


async def test_only_the_lease_holder_may_snooze(engine: Engine) -> None:
    await one(engine)
    [held] = await engine.claim(spec())
    with pytest.raises(StaleLease):
        await engine.snooze(held.id, "not-the-token", 10)
    released = await engine.release(held.id, held.lease_token or "")
    with pytest.raises(StaleLease):  # nobody holds a queued job
        await engine.snooze(released.id, held.lease_token or "", 10)
    assert (await engine.get(held.id)).state == State.queued


@pytest.mark.parametrize("seconds", [-1.0, math.nan, math.inf, MAX_SNOOZE_SECONDS + 1])
async def test_a_snooze_outside_zero_to_a_year_is_refused(engine: Engine, seconds: float) -> None:
    await one(engine)
    [held] = await engine.claim(spec())
    with pytest.raises(InvalidInput):
        await engine.snooze(held.id, held.lease_token or "", seconds)
    assert (await engine.get(held.id)).state == State.running


async def test_a_snooze_gives_seconds_or_a_time_and_no_outcome(engine: Engine) -> None:
    await one(engine)
    [held] = await engine.claim(spec())
    token = held.lease_token or ""
    with pytest.raises(InvalidInput):
        await engine.snooze(held.id, token)
    with pytest.raises(InvalidInput):
        await engine.snooze(held.id, token, 1, until=engine.clock() + 1)
    with pytest.raises(InvalidInput):
        await engine.ack([Ack(held.id, token, result=1, snooze=1)])
    assert (await engine.get(held.id)).state == State.running


async def test_snoozes_ride_in_a_batch_of_acknowledgements(engine: Engine) -> None:
    await one(engine)
    await one(engine)
    a, b = await engine.claim(ClaimSpec(["q"], None, 2, None, Worker("w")))
    acks = [Ack(a.id, a.lease_token or "", snooze=60), Ack(b.id, b.lease_token or "", result=2)]
    first, second = await engine.ack(acks)
    assert not isinstance(first, Exception) and not isinstance(second, Exception)
    assert (first.state, first.attempt, second.state) == (State.scheduled, 0, State.succeeded)


async def test_a_snooze_confirms_a_cancel_requested_meanwhile(engine: Engine) -> None:
    await one(engine)
    [held] = await engine.claim(spec())
    await engine.cancel(held.id, "stop")
    snoozed = await engine.snooze(held.id, held.lease_token or "", 30)
    assert snoozed.state == State.cancelled


async def test_a_snooze_past_the_deadline_fails_the_job_now(engine: Engine) -> None:
    await one(engine, deadline_seconds=60, max_attempts=5)
    [held] = await engine.claim(spec())
    failed = await engine.snooze(held.id, held.lease_token or "", 120)
    assert failed.state == State.failed and failed.error is not None
    assert failed.error["code"] == "deadline_exceeded"
    [attempt] = await engine.attempts(held.id)
    assert attempt.outcome == "failed"


# --- the native API, on both stores ---


async def claimed(client: httpx.AsyncClient, **job: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/jobs", json={"queue": "api", **job})
    assert r.status_code == 201, r.text
    body = {"queues": ["api"], "worker": WORKER}
    r = await client.post("/api/v1/claim", json=body)
    assert r.status_code == 200, r.text
    [got] = r.json()["jobs"]
    return dict(got)


async def test_the_snooze_route(tmp_path: Path, store_url: str) -> None:
    async with running_app(tmp_path, db=store_url) as (_, client):
        job = await claimed(client, max_attempts=1)
        path = f"/api/v1/jobs/{job['id']}/snooze"
        before = datetime.now(UTC)
        r = await client.post(path, json={"token": job["lease_token"], "seconds": 30})
        assert r.status_code == 200, r.text
        doc = r.json()
        assert (doc["state"], doc["attempt"], doc["lease_expires_at"]) == ("scheduled", 0, None)
        delay = (datetime.fromisoformat(doc["run_at"]) - before).total_seconds()
        assert 30 <= delay < 30 + 60  # a minute for a loaded machine: no timed assertion
        attempts = (await client.get(f"/api/v1/jobs/{job['id']}/attempts")).json()
        assert [a["outcome"] for a in attempts["attempts"]] == ["snoozed"]
        again = await client.post(path, json={"token": job["lease_token"], "seconds": 30})
        assert again.status_code == 409 and again.json()["error"]["code"] == "stale_lease"


async def test_the_snooze_route_takes_a_time(tmp_path: Path, store_url: str) -> None:
    async with running_app(tmp_path, db=store_url) as (_, client):
        job = await claimed(client)
        at = "2000-01-01T00:00:00+00:00"  # past: at once
        body = {"token": job["lease_token"], "run_at": at}
        r = await client.post(f"/api/v1/jobs/{job['id']}/snooze", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "queued"
        job = await claimed(client)
        body = {"token": job["lease_token"], "run_at": "2999-01-01T00:00:00Z"}
        r = await client.post(f"/api/v1/jobs/{job['id']}/snooze", json=body)
        assert r.status_code == 422, r.text  # more than a year ahead
        assert r.json()["error"]["code"] == "invalid"


@pytest.mark.parametrize(
    "body",
    [
        {"seconds": -1},
        {"seconds": MAX_SNOOZE_SECONDS + 1},
        {"seconds": "soon"},
        {},
        {"seconds": 1, "run_at": "2030-01-01T00:00:00Z"},
        {"seconds": 1, "extra": True},
    ],
)
async def test_a_bad_snooze_is_422_in_the_native_shape(
    tmp_path: Path, body: dict[str, Any]
) -> None:
    async with running_app(tmp_path) as (_, client):
        job = await claimed(client)
        r = await client.post(
            f"/api/v1/jobs/{job['id']}/snooze", json={"token": job["lease_token"], **body}
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "invalid"
        assert (await client.get(f"/api/v1/jobs/{job['id']}")).json()["state"] == "running"


async def test_a_snooze_in_acks_and_in_a_claim(tmp_path: Path, store_url: str) -> None:
    async with running_app(tmp_path, db=store_url) as (_, client):
        job = await claimed(client)
        item = {"id": job["id"], "token": job["lease_token"], "snooze": 0}
        r = await client.post("/api/v1/ack", json={"acks": [item]})
        assert r.status_code == 200, r.text
        assert r.json()["results"][0]["ok"] is True
        body: dict[str, Any] = {"queues": ["api"], "worker": WORKER, "acks": []}
        [again] = (await client.post("/api/v1/claim", json=body)).json()["jobs"]
        assert (again["id"], again["attempt"]) == (job["id"], 1)
        item = {"id": again["id"], "token": again["lease_token"], "snooze": 45}
        body = {"queues": ["api"], "worker": WORKER, "acks": [item]}
        r = await client.post("/api/v1/claim", json=body)
        assert r.status_code == 200 and r.json()["jobs"] == []
        doc = (await client.get(f"/api/v1/jobs/{job['id']}")).json()
        assert (doc["state"], doc["attempt"]) == ("scheduled", 0)
        both = {**item, "result": 1}
        r = await client.post("/api/v1/ack", json={"acks": [both]})
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid"


async def test_the_openapi_document_describes_snooze(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (_, client):
        doc = (await client.get("/openapi.json")).json()
    route = doc["paths"]["/api/v1/jobs/{job_id}/snooze"]["post"]
    assert "429" in route["description"] or "Retry-After" in route["description"]
    fields = doc["components"]["schemas"]["SnoozeIn"]["properties"]
    assert {"token", "seconds", "run_at"} <= set(fields)
    assert "snooze" in doc["components"]["schemas"]["AckItem"]["properties"]


async def test_metrics_count_snoozes_by_queue(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (_, client):
        for seconds in (0, 30):
            job = await claimed(client)
            body = {"token": job["lease_token"], "seconds": seconds}
            r = await client.post(f"/api/v1/jobs/{job['id']}/snooze", json=body)
            assert r.status_code == 200, r.text
        samples = await scrape(client)
    assert value(samples, "jobq_jobs_snoozed_total", queue="api") == 2
    assert value(samples, "jobq_jobs_finished_total", queue="api", state="failed") == 0


async def test_the_dialects_show_a_snoozed_job_as_waiting(tmp_path: Path, store_url: str) -> None:
    async with running_app(tmp_path, db=store_url) as (_, client):
        job = await claimed(client)
        body = {"token": job["lease_token"], "seconds": 300}
        assert (await client.post(f"/api/v1/jobs/{job['id']}/snooze", json=body)).is_success
        accepted = (await client.get(f"/accepted/jobs/{job['id']}")).json()
        titan = (await client.get(f"/titan-0.3/v1/groups/api/jobs/{job['id']}")).json()["job"]
        vidispine = await client.get(
            f"/API/job/VX-{job['seq']}", headers={"Accept": "application/json"}
        )
    assert accepted["status"] == titan["status"] == "delayed"  # as any scheduled job
    assert vidispine.json()["status"] == "READY"
