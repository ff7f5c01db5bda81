"""`Prefer: return=minimal` on POST /jobs: each job answered by its id, state and `created`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from jobq.api.app import create_app
from jobq.api.http.prefer import prefers_minimal
from jobq.config import Config

MINIMAL = {"Prefer": "return=minimal"}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Config(db=f"sqlite:///{tmp_path / 'jobq.db'}"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1/api/v1") as c:
            yield c


async def test_a_batch_answered_minimally_names_each_stored_job(client: httpx.AsyncClient):
    jobs = [{"queue": "q", "type": "t"}, {"queue": "q", "type": "t", "delay": 60}]
    r = await client.post("/jobs", json={"jobs": jobs}, headers=MINIMAL)
    assert r.status_code == 201
    assert r.headers["preference-applied"] == "return=minimal"
    receipts = r.json()["jobs"]
    assert [(j["state"], j["created"]) for j in receipts] == [("queued", True),
                                                             ("scheduled", True)]  # fmt: skip
    assert all(set(j) == {"id", "state", "created"} for j in receipts)
    for sent, got in zip(jobs, receipts, strict=True):
        stored = (await client.get(f"/jobs/{got['id']}")).json()
        assert (stored["queue"], stored["state"]) == (sent["queue"], got["state"])


async def test_a_duplicate_is_answered_minimally_as_the_live_job(client: httpx.AsyncClient):
    job = {"queue": "q", "type": "t", "unique_key": "k"}
    first = (await client.post("/jobs", json=job)).json()
    r = await client.post("/jobs", json=job, headers={"Prefer": 'respond-async, return="minimal"'})
    assert r.status_code == 200
    assert r.json() == {"id": first["id"], "state": "queued", "created": False}


async def test_without_the_preference_each_job_comes_whole(client: httpx.AsyncClient):
    r = await client.post("/jobs", json={"jobs": [{"queue": "q", "type": "t"}]},
                          headers={"Prefer": "return=representation"})  # fmt: skip
    assert r.status_code == 201 and "preference-applied" not in r.headers
    [job] = r.json()["jobs"]
    assert job["created"] is True and job["attempt"] == 0 and "lease_seconds" in job


@pytest.mark.parametrize(("headers", "minimal"), [
    (["return=minimal"], True),
    (["Return = MINIMAL"], True),
    (['return="minimal"; extra=1'], True),
    (["wait=5, return=minimal"], True),
    (["handling=lenient", "return=minimal"], True),
    (["return=representation"], False),
    (["minimal"], False),
    (["returns=minimal"], False),
    ([], False),
])  # fmt: skip
def test_the_preference_is_read_as_rfc_7240_writes_it(headers: list[str], minimal: bool):
    assert prefers_minimal(headers) is minimal
