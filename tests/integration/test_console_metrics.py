"""/metrics on both stores: each queue's oldest waiting job, its live workers, their slots
and the slots busy with its jobs, within the bound on queue labels (`--metrics-queues`)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobq.engine import stats
from jobq.model import ClaimSpec, Worker
from tests.authkit import running_app
from tests.integration.test_metrics import scrape, value


async def _claim(
    client: httpx.AsyncClient, queues: list[str], n: int, name: str, slots: int | None
) -> list[Any]:
    worker: dict[str, Any] = {"name": name, "host": "h", "pid": 1}
    if slots is not None:
        worker["slots"] = slots
    body: dict[str, Any] = {"queues": queues, "max": n, "worker": worker}
    r = await client.post("/api/v1/claim", json=body)
    assert r.status_code in (200, 204), r.text
    return [] if r.status_code == 204 else list(r.json()["jobs"])


async def _enqueue(client: httpx.AsyncClient, queue: str, n: int) -> None:
    jobs = [{"queue": queue, "type": "t"} for _ in range(n)]
    assert (await client.post("/api/v1/jobs", json={"jobs": jobs})).status_code == 201


async def test_oldest_waiting_workers_and_slots_per_queue(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_app(tmp_path, db=store_url) as (app, client):
        app.state.metrics.queue_counts.ttl = 0.0
        await _enqueue(client, "video", 1)  # first come: the worker of every queue takes it
        await _enqueue(client, "mail", 4)
        await client.post("/api/v1/queues/idle/pause")  # a known queue with nothing to take
        await _claim(client, ["idle"], 1, "listener", 2)  # asks for "idle" only, holds nothing
        started = time.time()
        await asyncio.sleep(1.2)
        assert len(await _claim(client, ["mail"], 3, "mailer", 8)) == 3
        anything = Worker("anything", "h", 2, slots=4)  # a worker of every queue: video's job
        await app.state.engine.claim(ClaimSpec(None, None, 1, None, anything))
        m = await scrape(client)
        age = value(m, "jobq_queue_oldest_waiting_seconds", queue="mail")
        assert 1.0 <= age <= time.time() - started + 1.0
        assert value(m, "jobq_queue_oldest_waiting_seconds", queue="video") == 0  # taken
        assert value(m, "jobq_queue_workers", queue="mail") == 2  # mailer and anything
        assert value(m, "jobq_queue_worker_slots", queue="mail") == 12
        assert value(m, "jobq_queue_busy_slots", queue="mail") == 3
        assert value(m, "jobq_queue_workers", queue="idle") == 2  # listener and anything
        assert value(m, "jobq_queue_worker_slots", queue="idle") == 6
        assert value(m, "jobq_queue_busy_slots", queue="video") == 1
        monkeypatch.setattr(stats, "LIVE_WINDOW", 0.5)
        await asyncio.sleep(0.7)  # "listener" holds nothing and has not claimed since: gone
        m = await scrape(client)
        assert value(m, "jobq_queue_workers", queue="idle") == 1
        assert value(m, "jobq_queue_workers", queue="mail") == 2  # busy workers stay live


async def test_worker_gauges_respect_the_bound_on_queue_labels(
    tmp_path: Path, store_url: str
) -> None:
    async with running_app(tmp_path, db=store_url, metrics_queues=1) as (app, client):
        app.state.metrics.queue_counts.ttl = 0.0
        for queue in ("a", "b", "c"):
            await _enqueue(client, queue, 2)
        await _claim(client, ["b", "c"], 4, "many", 5)
        m = await scrape(client)
        labels = {dict(k[1]).get("queue") for k in m if k[0].startswith("jobq_queue_")}
        assert labels == {"a", "(other)"}
        assert value(m, "jobq_queue_workers", queue="(other)") == 1  # once, for b and c
        assert value(m, "jobq_queue_worker_slots", queue="(other)") == 5
        assert value(m, "jobq_queue_busy_slots", queue="(other)") == 4
        assert value(m, "jobq_queue_workers", queue="a") == 0
        assert value(m, "jobq_queue_oldest_waiting_seconds", queue="(other)") == 0
        assert value(m, "jobq_queue_oldest_waiting_seconds", queue="a") >= 0
