"""Who may use a content item's jobs through Connect, with real users and `Key` API keys."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobq.auth import service
from tests.authkit import add_person, auth_store_of, running_app

GUID = "report-7f3a"
ROUTES = ["", "/log", "/download", "/error"]


class People:
    def __init__(self, client: httpx.AsyncClient, keys: dict[str, str]) -> None:
        self.client = client
        self.keys = keys

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Key {self.keys[who]}"}

    async def enqueue(self) -> dict[str, Any]:
        r = await self.client.post(
            "/api/v1/jobs",
            json={"queue": GUID, "type": "build_report"},
            headers={"Authorization": f"Bearer {self.keys['root']}"},
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def get(self, who: str, url: str) -> httpx.Response:
        return await self.client.get(url, headers=self.headers(who))

    async def delete(self, who: str, url: str) -> httpx.Response:
        return await self.client.delete(url, headers=self.headers(who))


@pytest.fixture
async def people(tmp_path: Path, store_url: str) -> AsyncIterator[People]:
    async with running_app(tmp_path, db=store_url) as (app, client):
        store = auth_store_of(app)
        names = ["root", "olga", "carl", "vic", "wendy", "eve"]
        keys = {n: await add_person(store, n, admin=n == "root") for n in names}
        now = time.time()
        await store.set_queue_owner(GUID, "olga", now)
        await store.set_queue_owner("elsewhere", "eve", now)
        for user, role in (("carl", "collaborator"), ("vic", "viewer"), ("wendy", "worker")):
            await service.grant(store, GUID, user, role, now)
        yield People(client, keys)


def jobs_url(key: str | None = None, tail: str = "", guid: str = GUID) -> str:
    url = f"/__api__/v1/content/{guid}/jobs"
    return url if key is None else f"{url}/{key}{tail}"


def assert_error(r: httpx.Response, status: int, code: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = dict(r.json())
    assert set(body) == {"code", "error", "payload"} and body["code"] == code
    return body


async def test_no_key_or_a_bad_key_is_401_code_24(people: People):
    assert_error(await people.client.get(jobs_url()), 401, 24)
    bad = {"Authorization": "Key jobq_nope_nope"}
    assert_error(await people.client.get(jobs_url(), headers=bad), 401, 24)


@pytest.mark.parametrize("who", ["olga", "carl", "root"])
async def test_owner_collaborator_and_admin_may_read_and_kill(people: People, who: str):
    job = await people.enqueue()
    assert (await people.get(who, jobs_url())).status_code == 200
    for route in ROUTES:
        r = await people.get(who, jobs_url(job["id"], route))
        assert r.status_code in (200, 204), (route, r.text)
    assert (await people.delete(who, jobs_url(job["id"]))).status_code == 200


@pytest.mark.parametrize("who", ["vic", "wendy"])
async def test_other_roles_are_403_code_22(people: People, who: str):
    job = await people.enqueue()
    answers = [await people.get(who, jobs_url()), await people.delete(who, jobs_url(job["id"]))]
    answers += [await people.get(who, jobs_url(job["id"], route)) for route in ROUTES]
    for r in answers:
        assert_error(r, 403, 22)
    job_now = await people.client.get(
        f"/api/v1/jobs/{job['id']}", headers={"Authorization": f"Bearer {people.keys['root']}"}
    )
    assert job_now.json()["state"] == "queued"


async def test_a_stranger_does_not_learn_the_content_exists(people: People):
    job = await people.enqueue()
    assert_error(await people.get("eve", jobs_url()), 404, 4)
    for route in ROUTES:
        assert_error(await people.get("eve", jobs_url(job["id"], route)), 404, 4)
    assert_error(await people.delete("eve", jobs_url(job["id"])), 404, 4)
