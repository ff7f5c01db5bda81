"""Titan 0.2, Titan 0.3 and Accepted with users and keys: 401, 403, 404 and 429 in each
dialect's own error shape; enqueued jobs belong to their enqueuer; claims take only from
queues the caller may work on."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobq.auth import service
from tests.authkit import add_person, auth_store_of, bearer, running_app

T2, T3, ACC = "/titan-0.2/v1", "/titan-0.3/v1", "/accepted"


class People:
    def __init__(self, client: httpx.AsyncClient, keys: dict[str, str]) -> None:
        self.client = client
        self.keys = keys

    async def call(self, who: str | None, method: str, url: str, **kw: Any) -> httpx.Response:
        headers = bearer(self.keys[who] if who else None)
        return await self.client.request(method, url, headers=headers, **kw)

    async def titan03_job(self, who: str, group: str) -> dict[str, Any]:
        body = {"jobs": [{"image": "render", "priority": 1}]}
        r = await self.call(who, "POST", f"{T3}/groups/{group}/jobs", json=body)
        assert r.status_code == 201, r.text
        return dict(r.json()["jobs"][0])


@pytest.fixture
async def people(tmp_path: Path, store_url: str) -> AsyncIterator[People]:
    async with running_app(tmp_path, db=store_url, auth_fail_limit=3) as (app, client):
        store = auth_store_of(app)
        keys = {n: await add_person(store, n, admin=n == "root") for n in
                ("root", "olga", "vic", "wendy", "eve")}  # fmt: skip
        now = time.time()
        for queue in ("reports", "default"):
            await store.set_queue_owner(queue, "olga", now)
            await service.grant(store, queue, "vic", "viewer", now)
            await service.grant(store, queue, "wendy", "worker", now)
        await store.set_queue_owner("eves", "eve", now)
        yield People(client, keys)


def titan_error(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "fields"}, body
    return str(body["error"]["message"])


def accepted_error(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "message", "details"} and body["error"] == code, body


async def test_titan_answers_401_403_404_in_its_own_shape(people: People) -> None:
    job = await people.titan03_job("olga", "reports")
    url = f"{T3}/groups/reports/jobs/{job['id']}"
    r = await people.call(None, "GET", url)
    titan_error(r, 401)
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert "role" in titan_error(await people.call("vic", "POST", f"{url}/cancel"), 403)
    titan_error(await people.call("eve", "GET", url), 404)  # no role: the job does not exist
    titan_error(await people.call("eve", "GET", f"{T2}/job/{job['id']}"), 404)
    titan_error(await people.call("vic", "GET", f"{T2}/jobs/consume"), 403)
    titan_error(await people.call("eve", "POST", f"{T3}/groups/reports/jobs", json={"jobs": []}),
                403)  # fmt: skip
    assert (await people.call("vic", "GET", url)).json()["job"]["id"] == job["id"]


async def test_accepted_answers_401_403_404_in_its_own_shape(people: People) -> None:
    r = await people.call("olga", "POST", f"{ACC}/jobs", json={"queue": "reports"})
    assert r.status_code == 202, r.text
    url = f"{ACC}/jobs/{r.json()['id']}"
    accepted_error(await people.call(None, "GET", url), 401, "unauthorized")
    accepted_error(await people.call("vic", "DELETE", url), 403, "forbidden")
    accepted_error(await people.call("eve", "GET", url), 404, "not_found")
    accepted_error(await people.call("vic", "POST", f"{ACC}/want_job?queue=reports"), 403,
                   "forbidden")  # fmt: skip
    assert (await people.call("wendy", "POST", f"{ACC}/want_job?queue=eves")).status_code == 403


@pytest.mark.parametrize("url", [f"{T2}/job/x", f"{T3}/groups/g/jobs/x", f"{ACC}/jobs/x"])
async def test_failed_authentications_get_429_in_the_dialects_shape(
    people: People, url: str
) -> None:
    bad = {"Authorization": "Bearer jobq_abcdefghij_" + "x" * 43}
    statuses = [(await people.client.get(url, headers=bad)).status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    r = await people.call("olga", "GET", url)  # a good key, but too late
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    if url.startswith(ACC):
        accepted_error(r, 429, "rate_limited")
    else:
        titan_error(r, 429)


async def test_jobs_belong_to_their_enqueuer_and_queues_to_their_first_user(
    people: People,
) -> None:
    await people.titan03_job("eve", "fresh")  # an unowned group becomes eve's
    root = await people.call("root", "GET", "/api/v1/jobs?queue=fresh")
    assert [j["owner"] for j in root.json()["jobs"]] == ["eve"]
    assert (await people.call("olga", "GET", f"{T3}/groups/fresh/jobs")).json() == {"jobs": []}
    r = await people.call("olga", "POST", f"{T2}/jobs", json={"jobs": [{"image": "x"}]})
    job = (await people.call("root", "GET", f"/api/v1/jobs/{r.json()['jobs'][0]['id']}")).json()
    assert job["owner"] == "olga" and job["queue"] == "default"


async def test_claims_take_only_from_queues_the_caller_may_work_on(people: People) -> None:
    mine = await people.titan03_job("olga", "reports")
    elsewhere = await people.titan03_job("eve", "eves")
    assert (await people.call("vic", "GET", f"{T3}/jobs?n=10")).json() == {"jobs": []}
    r = await people.call("wendy", "GET", f"{T3}/jobs?n=10")
    assert [j["id"] for j in r.json()["jobs"]] == [mine["id"]]
    assert (await people.call("wendy", "POST", f"{ACC}/want_job")).status_code == 204
    r = await people.call("eve", "POST", f"{ACC}/want_job")
    assert r.status_code == 200 and r.json()["id"] == elsewhere["id"]
    done = await people.call("wendy", "POST", f"{T3}/groups/reports/jobs/{mine['id']}/success")
    assert done.json()["job"]["status"] == "success"
