"""Jobs found by the start of their id (`JobQuery.id_prefix`, `GET /jobs?id_prefix=`), on
every store: what the CLI resolves a short id with. A prefix search walks at most
ID_PREFIX_WINDOW ids of the id index, and only ever shows the caller's jobs."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobq.engine import Engine, JobSpec
from jobq.errors import InvalidInput
from jobq.model import ID_PREFIX_WINDOW, JobQuery
from tests.authkit import add_person, auth_store_of, bearer, running_app


def common_prefix(a: str, b: str) -> str:
    size = 0
    while size < min(len(a), len(b)) and a[size] == b[size]:
        size += 1
    return a[:size]


async def test_a_prefix_finds_the_jobs_whose_id_begins_with_it(engine: Engine):
    jobs = [job for job, _ in await engine.enqueue([JobSpec(queue="q") for _ in range(3)])]
    other = (await engine.enqueue([JobSpec(queue="other")]))[0][0]
    one = jobs[1]
    found = await engine.list_jobs(JobQuery(id_prefix=one.id[:30]))
    assert [j.id for j in found] == [one.id]
    assert [j.id for j in await engine.list_jobs(JobQuery(id_prefix=one.id.upper()))] == [one.id]
    shared = common_prefix(jobs[0].id, other.id)
    both = await engine.list_jobs(JobQuery(id_prefix=shared, sort="seq"))
    assert [j.id for j in both] == [*(j.id for j in jobs), other.id]
    mine = await engine.list_jobs(JobQuery(id_prefix=shared, queues=["q"]))
    assert {j.id for j in mine} == {j.id for j in jobs}
    assert await engine.count_jobs(JobQuery(id_prefix=shared, queues=["q"]), 100) == 3
    assert await engine.list_jobs(JobQuery(id_prefix="f" * 36)) == []


@pytest.mark.parametrize("bad", ["xyz", "01a2_", "0" * 37, ""])
async def test_a_prefix_that_cannot_begin_an_id_is_refused(engine: Engine, bad: str):
    with pytest.raises(InvalidInput) as refused:
        await engine.list_jobs(JobQuery(id_prefix=bad))
    assert refused.value.details["field"] == "id_prefix"


async def test_a_search_that_would_walk_past_the_window_asks_for_more_of_the_id(
    engine: Engine,
):
    """A short page from a full window might miss the caller's job beyond it: refused, so
    a short id never resolves to the wrong job; a longer prefix finds it."""
    crowd = await engine.enqueue([JobSpec(queue="crowd") for _ in range(ID_PREFIX_WINDOW)])
    [(mine, _)] = await engine.enqueue([JobSpec(queue="mine")])
    shared = common_prefix(crowd[0][0].id, mine.id)
    assert mine.id > max(job.id for job, _ in crowd)  # later: beyond the window
    with pytest.raises(InvalidInput) as refused:
        await engine.list_jobs(JobQuery(id_prefix=shared, queues=["mine"]))
    assert "give more of the id" in refused.value.message
    full_page = await engine.list_jobs(JobQuery(id_prefix=shared, limit=10))
    assert len(full_page) == 10  # a full page is an answer as it is
    found = await engine.list_jobs(JobQuery(id_prefix=mine.id[:24], queues=["mine"]))
    assert [j.id for j in found] == [mine.id]


async def test_a_prefix_shows_a_caller_only_their_own_jobs(tmp_path: Path):
    async with running_app(tmp_path) as (app, client):
        ann = await add_person(auth_store_of(app), "ann")
        bob = await add_person(auth_store_of(app), "bob")
        r = await client.post("/api/v1/jobs", json={"queue": "anns"}, headers=bearer(ann))
        job_id = r.json()["id"]
        await client.post("/api/v1/jobs", json={"queue": "bobs"}, headers=bearer(bob))
        params = {"id_prefix": job_id[:20], "total": "true"}
        seen = (await client.get("/api/v1/jobs", params=params, headers=bearer(bob))).json()
        assert (seen["jobs"], seen["total"]) == ([], 0)
        seen = (await client.get("/api/v1/jobs", params=params, headers=bearer(ann))).json()
        assert ([j["id"] for j in seen["jobs"]], seen["total"]) == ([job_id], 1)
        r = await client.get("/api/v1/jobs", params={"id_prefix": "zz"}, headers=bearer(ann))
        assert r.status_code == 422 and r.json()["error"]["details"]["field"] == "id_prefix"


async def test_a_listing_counts_its_total_when_asked(tmp_path: Path):
    async with running_app(tmp_path) as (_, client):
        jobs = [{"queue": "q", "metadata": {"n": str(n % 2)}} for n in range(7)]
        await client.post("/api/v1/jobs", json={"jobs": jobs})
        params = {"queue": "q", "meta.n": "1", "limit": 2, "total": "true"}
        page = (await client.get("/api/v1/jobs", params=params)).json()
        assert (len(page["jobs"]), page["total"], page["total_capped"]) == (2, 3, False)
        params["cursor"] = page["next_cursor"]
        page = (await client.get("/api/v1/jobs", params=params)).json()
        assert (len(page["jobs"]), page["total"]) == (1, 3)  # the total is the listing's
        plain = (await client.get("/api/v1/jobs", params={"queue": "q"})).json()
        assert "total" not in plain
