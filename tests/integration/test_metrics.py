"""GET /metrics on a real app and a real SQLite store: the values follow the jobs."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from tests.authkit import add_person, auth_store_of, bearer, running_app
from tests.integration.dialect_client import eventually

WORKER = {"name": "w1", "host": "h", "pid": 1}


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with running_app(tmp_path) as (app, client):
        app.state.metrics.queue_counts.ttl = 0.0  # every scrape reads the store
        yield app, client


async def scrape(client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> Any:
    """{(sample name, sorted labels): value} of one scrape."""
    r = await client.get("/metrics", headers=headers or {})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples: Any, name: str, **labels: str) -> float:
    return float(samples.get((name, tuple(sorted(labels.items()))), 0.0))


async def enqueue(client: httpx.AsyncClient, queue: str, n: int) -> None:
    jobs = [{"queue": queue, "type": "t"} for _ in range(n)]
    r = await client.post("/api/v1/jobs", json={"jobs": jobs})
    assert r.status_code == 201, r.text


async def claim(client: httpx.AsyncClient, queue: str, n: int, wait: float = 0) -> list[Any]:
    body = {"queues": [queue], "max": n, "worker": WORKER, "wait": wait}
    r = await client.post("/api/v1/claim", json=body)
    assert r.status_code in (200, 204), r.text
    return [] if r.status_code == 204 else list(r.json()["jobs"])


async def test_counts_and_counters_follow_jobs(live: tuple[FastAPI, httpx.AsyncClient]) -> None:
    _, client = live
    await enqueue(client, "mail", 3)
    m = await scrape(client)
    assert value(m, "jobq_jobs", queue="mail", state="queued") == 3
    assert value(m, "jobq_jobs_enqueued_total", queue="mail") == 3
    assert value(m, "jobq_job_wait_seconds_count", queue="mail") == 0

    done, failed = await claim(client, "mail", 2)
    m = await scrape(client)
    assert value(m, "jobq_jobs", queue="mail", state="running") == 2
    assert value(m, "jobq_jobs", queue="mail", state="queued") == 1
    assert value(m, "jobq_job_wait_seconds_count", queue="mail") == 2

    ok = await client.post(f"/api/v1/jobs/{done['id']}/complete",
                           json={"token": done["lease_token"], "result": 1})  # fmt: skip
    assert ok.status_code == 200, ok.text
    error = {"code": "boom", "message": "no"}
    body = {"token": failed["lease_token"], "error": error, "retryable": False}
    bad = await client.post(f"/api/v1/jobs/{failed['id']}/fail", json=body)
    assert bad.status_code == 200, bad.text
    m = await scrape(client)
    assert value(m, "jobq_jobs_finished_total", queue="mail", state="succeeded") == 1
    assert value(m, "jobq_jobs_finished_total", queue="mail", state="failed") == 1
    assert value(m, "jobq_job_run_seconds_count", queue="mail") == 2
    assert value(m, "jobq_jobs", queue="mail", state="running") == 0
    assert value(m, "jobq_jobs", queue="mail", state="succeeded") == 1


async def test_claim_waiters_gauge(live: tuple[FastAPI, httpx.AsyncClient]) -> None:
    _, client = live
    assert value(await scrape(client), "jobq_claim_waiters") == 0
    waiting = asyncio.create_task(claim(client, "idle", 1, wait=30))

    async def one_waiter() -> bool:
        return value(await scrape(client), "jobq_claim_waiters") == 1

    await eventually(one_waiter)
    await enqueue(client, "idle", 1)
    assert len(await asyncio.wait_for(waiting, 30)) == 1
    assert value(await scrape(client), "jobq_claim_waiters") == 0


async def test_http_requests_by_route_template(live: tuple[FastAPI, httpx.AsyncClient]) -> None:
    _, client = live
    await enqueue(client, "q", 1)
    [job] = (await client.get("/api/v1/jobs")).json()["jobs"]
    for _ in range(2):
        assert (await client.get(f"/api/v1/jobs/{job['id']}")).status_code == 200
    assert (await client.get("/api/v1/jobs/nope")).status_code == 404
    assert (await client.get("/no/such/route")).status_code == 404
    m = await scrape(client)
    one = {"route": "/api/v1/jobs/{job_id}", "method": "GET"}
    assert value(m, "jobq_http_requests_total", **one, status="200") == 2
    assert value(m, "jobq_http_requests_total", **one, status="404") == 1
    assert value(m, "jobq_http_request_seconds_count", **one) == 3
    assert value(m, "jobq_http_requests_total", route="/api/v1/jobs", method="POST",
                 status="201") == 1  # fmt: skip
    assert value(m, "jobq_http_requests_total", route="(unmatched)", method="GET",
                 status="404") == 1  # fmt: skip


async def test_store_errors_are_counted(
    live: tuple[FastAPI, httpx.AsyncClient], tmp_path: Path
) -> None:
    _, client = live
    with sqlite3.connect(tmp_path / "jobq.db") as db:  # break the store for real
        db.execute("ALTER TABLE queues RENAME TO queues_gone")
    r = await client.get("/api/v1/queues")
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "store_unavailable"
    with sqlite3.connect(tmp_path / "jobq.db") as db:
        db.execute("ALTER TABLE queues_gone RENAME TO queues")
    assert value(await scrape(client), "jobq_store_errors_total") == 1


async def test_with_auth_metrics_are_for_administrators(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, client):
        admin = await add_person(auth_store_of(app), "root", admin=True)
        user = await add_person(auth_store_of(app), "alice")
        assert (await client.get("/metrics")).status_code == 401
        r = await client.get("/metrics", headers=bearer(user))
        assert r.status_code == 403
        assert r.json()["error"]["code"] == "forbidden"
        m = await scrape(client, bearer(admin))
        assert value(m, "jobq_http_requests_total", route="/metrics", method="GET",
                     status="403") == 1  # fmt: skip


async def test_queues_past_the_limit_are_counted_together_as_other(tmp_path: Path) -> None:
    """With --metrics-queues 2, the first two queues seen keep their names; the jobs of every
    later queue are counted, summed, under queue="(other)"."""
    async with running_app(tmp_path, metrics_queues=2) as (app, client):
        app.state.metrics.queue_counts.ttl = 0.0
        for queue, n in (("a", 1), ("b", 2), ("c", 3), ("d", 4)):
            await enqueue(client, queue, n)
        await claim(client, "d", 1)
        m = await scrape(client)
        assert value(m, "jobq_jobs_enqueued_total", queue="a") == 1
        assert value(m, "jobq_jobs_enqueued_total", queue="b") == 2
        assert value(m, "jobq_jobs_enqueued_total", queue="(other)") == 7
        assert value(m, "jobq_jobs", queue="(other)", state="queued") == 6
        assert value(m, "jobq_jobs", queue="(other)", state="running") == 1
        assert value(m, "jobq_job_wait_seconds_count", queue="(other)") == 1
        named = {dict(labels).get("queue") for _, labels in m if dict(labels).get("queue")}
        assert named == {"a", "b", "(other)"}
        assert value(m, "jobq_queue_paused", queue="a") == 0
        assert ("jobq_queue_paused", (("queue", "(other)"),)) not in m
