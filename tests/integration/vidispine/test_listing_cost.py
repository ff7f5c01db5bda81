"""GET /API/job costs what its page costs: filters, order and paging run in the store, and the
problems that make a waiting job WAITING are found from the page's jobs alone."""

from __future__ import annotations

from typing import Any

import pytest

from jobq.engine import JobSpec
from jobq.model import JobQuery
from tests.integration.vidispine.conftest import JSON, Api


def spy_limits(api: Api, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The limit of every job listing the store is asked for."""
    store = api.engine.store
    limits: list[int] = []
    original = store.list_jobs

    async def list_jobs(query: JobQuery) -> Any:
        limits.append(query.limit)
        return await original(query)

    monkeypatch.setattr(store, "list_jobs", list_jobs)
    return limits


async def test_a_page_reads_only_its_own_jobs_and_counts_hits_in_the_store(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = await api.engine.enqueue([JobSpec(queue="TRANSCODE", type="t") for _ in range(300)])
    seqs = sorted((job.seq for job, _ in made), reverse=True)
    limits = spy_limits(api, monkeypatch)
    r = await api.c.get("/API/job", params={"first": 11, "number": 5}, headers=JSON)
    doc = r.json()
    assert doc["hits"] == 300
    assert [j["jobId"] for j in doc["job"]] == [f"VX-{s}" for s in seqs[10:15]]
    assert limits and max(limits) <= 15, limits
    r = await api.c.get("/API/job", params={"sort": "startTime asc", "number": 2}, headers=JSON)
    assert [j["jobId"] for j in r.json()["job"]] == [f"VX-{s}" for s in sorted(seqs)[:2]]
    assert max(limits) <= 15, limits
    r = await api.c.get("/API/job", params={"first": 400}, headers=JSON)
    assert r.json() == {"hits": 300, "job": []} or r.json()["job"] == []


async def test_waiting_jobs_are_told_from_the_problems_of_their_own_queues(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = api.engine
    engine.problem_finder.settings.idle_after = 0.0  # every untaken queued job waits for a worker
    await engine.enqueue([JobSpec(queue=f"Q{i:03}", type="t") for i in range(200)])
    asked: list[Any] = []
    original = engine.store.type_activity

    async def type_activity(since: float, queues: Any = None) -> Any:
        asked.append(queues)
        return await original(since, queues)

    monkeypatch.setattr(engine.store, "type_activity", type_activity)
    r = await api.c.get("/API/job", params={"number": 3}, headers=JSON)
    jobs = r.json()["job"]
    assert [j["status"] for j in jobs] == ["WAITING"] * 3
    assert [j["waiting"]["resourceType"] for j in jobs] == ["no_worker"] * 3
    assert asked and all(q is not None and len(q) <= 3 for q in asked), asked
    r = await api.c.get("/API/job", params={"state": "WAITING", "number": 2}, headers=JSON)
    assert r.json()["hits"] == 200 and len(r.json()["job"]) == 2
