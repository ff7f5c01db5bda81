"""Titan 0.3.3 (seed 001), endpoint by endpoint, with the response codes of reference/titan.md."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from jobq.api.app import create_app
from jobq.api.dialects.titan import v03 as titan03
from jobq.config import Config
from tests.integration.dialect_client import app_client, eventually

B = "/titan-0.3/v1"
G = f"{B}/groups/render"
LOG = ("log.txt", b"frame 1\nframe 2\n", "text/plain; charset=utf-8")


@pytest.fixture
async def client(store_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(store_url) as c:
        yield c


async def enqueue(c: httpx.AsyncClient, group: str = G, **job: object) -> dict:
    r = await c.post(f"{group}/jobs", json={"jobs": [{"image": "img", "priority": 1, **job}]})
    assert r.status_code == 201, r.text
    return r.json()["jobs"][0]


async def running(c: httpx.AsyncClient, **job: object) -> dict:
    made = await enqueue(c, **job)
    r = await c.get(f"{B}/jobs")
    assert r.status_code == 200
    [got] = r.json()["jobs"]
    assert got["id"] == made["id"] and got["status"] == "running"
    return got


def titan_error(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert set(r.json()["error"]) == {"message", "fields"}
    return r.json()["error"]


def id_status(r: httpx.Response, job_id: str, status: str) -> None:
    assert r.status_code == 409, r.text
    assert r.json() == {"id": job_id, "status": status}


async def test_enqueue_answers_201_with_defaults(client):
    job = await enqueue(client, payload="x")
    assert job["status"] == "queued" and job["group_name"] == "render"
    assert (job["max_retries"], job["timeout"], job["delay"], job["retries_delay"]) == (
        0,
        60,
        0,
        60,
    )
    unset = {"retry_at", "retry_id", "started_at", "completed_at", "retry_of", "reason"}
    assert not unset & set(job), "unset fields are left out, as Titan did (not null)"


@pytest.mark.parametrize(
    "bad",
    [{"priority": 1}, {"image": "", "priority": 1}, {"image": "i"}, {"image": "i", "priority": 3},
     {"image": "i", "priority": 0, "max_retries": 26}],
)  # fmt: skip
async def test_enqueue_400_if_any_job_is_invalid_and_none_enqueued(client, bad):
    r = await client.post(f"{G}/jobs", json={"jobs": [{"image": "ok", "priority": 0}, bad]})
    titan_error(r, 400)
    assert (await client.get(f"{G}/jobs")).json()["jobs"] == []


async def test_group_names_are_letters_digits_dash_underscore(client):
    r = await client.post(
        f"{B}/groups/bad.name/jobs", json={"jobs": [{"image": "i", "priority": 0}]}
    )
    titan_error(r, 400)


async def test_list_group_with_created_after_and_n(client):
    first = await enqueue(client)
    second = await enqueue(client)
    await enqueue(client, group=f"{B}/groups/other")
    r = await client.get(f"{G}/jobs")
    assert r.status_code == 200
    assert [j["id"] for j in r.json()["jobs"]] == [first["id"], second["id"]]
    one = (await client.get(f"{G}/jobs", params={"n": 1})).json()["jobs"]
    assert one[0]["id"] == first["id"]  # (with second too, had both come in one millisecond)
    later = (await client.get(f"{G}/jobs", params={"created_after": second["created_at"]})).json()
    assert later["jobs"] == []
    titan_error(await client.get(f"{G}/jobs", params={"created_after": "yesterday"}), 400)


async def test_paging_by_created_after_visits_every_job_of_a_batch_once(client):
    r = await client.post(f"{G}/jobs", json={"jobs": [{"image": "i", "priority": 0}] * 4})
    posted = [j["id"] for j in r.json()["jobs"]]
    r = await client.post(f"{G}/jobs", json={"jobs": [{"image": "i", "priority": 0}] * 3})
    posted += [j["id"] for j in r.json()["jobs"]]
    seen: list[str] = []
    params: dict[str, str | int] = {"n": 2}
    while page := (await client.get(f"{G}/jobs", params=params)).json()["jobs"]:
        seen += [j["id"] for j in page]
        params["created_after"] = page[-1]["created_at"]  # as the client pages
    assert seen == posted


async def test_a_post_holds_at_most_max_batch_jobs(client):
    jobs = [{"image": "i", "priority": 0}] * (titan03.MAX_BATCH + 1)
    titan_error(await client.post(f"{G}/jobs", json={"jobs": jobs}), 400)


async def test_consume_takes_from_any_group(client):
    a = await enqueue(client)
    b = await enqueue(client, group=f"{B}/groups/other", priority=2)
    jobs = (await client.get(f"{B}/jobs", params={"n": 5})).json()["jobs"]
    assert [j["id"] for j in jobs] == [b["id"], a["id"]]
    assert (await client.get(f"{B}/jobs")).json()["jobs"] == []


async def test_get_job(client):
    job = await enqueue(client)
    r = await client.get(f"{G}/jobs/{job['id']}")
    assert r.status_code == 200 and r.json()["job"]["id"] == job["id"]
    titan_error(await client.get(f"{G}/jobs/nope"), 404)
    titan_error(await client.get(f"{B}/groups/other/jobs/{job['id']}"), 404)


async def test_start_takes_a_queued_job(client):
    job = await enqueue(client)
    r = await client.post(
        f"{G}/jobs/{job['id']}/start", json={"started_at": "2030-01-01T00:00:00Z"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["job"]["status"] == "running" and r.json()["job"]["started_at"]
    again = await client.post(f"{G}/jobs/{job['id']}/start", json={})
    assert again.status_code == 200 and again.json()["job"]["status"] == "running"
    assert (await client.get(f"{B}/jobs")).json()["jobs"] == []


async def test_start_errors(client):
    delayed = await enqueue(client, delay=600)
    id_status(
        await client.post(f"{G}/jobs/{delayed['id']}/start", json={}), delayed["id"], "delayed"
    )
    titan_error(await client.post(f"{G}/jobs/nope/start", json={}), 404)
    r = await client.post(f"{G}/jobs/{delayed['id']}/start", json={"started_at": "never"})
    titan_error(r, 400)


async def test_success(client):
    job = await running(client)
    r = await client.post(f"{G}/jobs/{job['id']}/success")
    assert r.status_code == 200 and r.json()["job"]["status"] == "success"
    assert r.json()["job"]["completed_at"]
    id_status(await client.post(f"{G}/jobs/{job['id']}/success"), job["id"], "success")
    titan_error(await client.post(f"{G}/jobs/nope/success"), 404)


async def test_error_with_reason_form_field(client):
    job = await running(client)
    r = await client.post(f"{G}/jobs/{job['id']}/error", data={"reason": "killed"})
    assert r.status_code == 200, r.text
    assert (r.json()["job"]["status"], r.json()["job"]["reason"]) == ("error", "killed")
    id_status(await client.post(f"{G}/jobs/{job['id']}/error", data={"reason": "killed"}),
              job["id"], "error")  # fmt: skip
    titan_error(await client.post(f"{G}/jobs/nope/error", data={"reason": "killed"}), 404)


async def test_error_reason_as_json_and_invalid_reason(client):
    job = await running(client)
    titan_error(await client.post(f"{G}/jobs/{job['id']}/error", json={"reason": "sad"}), 400)
    r = await client.post(f"{G}/jobs/{job['id']}/error", json={"reason": "timeout"})
    assert r.json()["job"]["reason"] == "timeout"


async def test_error_with_max_retries_spawns_a_new_job(client):
    job = await running(client, max_retries=1, retries_delay=30)
    r = await client.post(f"{G}/jobs/{job['id']}/error", data={"reason": "bad_exit"})
    retry_at = r.json()["job"]["retry_at"]
    assert retry_at
    new = (await client.get(f"{G}/jobs/{retry_at}")).json()["job"]
    assert (new["status"], new["retry_of"], new["max_retries"], new["delay"]) == (
        "delayed", job["id"], 0, 30)  # fmt: skip
    id_status(await client.post(f"{G}/jobs/{job['id']}/retry"), job["id"], "error")


async def test_touch(client):
    job = await running(client, timeout=2)
    r = await client.post(f"{G}/jobs/{job['id']}/touch")
    assert r.status_code == 200 and r.content == b""
    waiting = await enqueue(client)
    id_status(await client.post(f"{G}/jobs/{waiting['id']}/touch"), waiting["id"], "queued")
    titan_error(await client.post(f"{G}/jobs/nope/touch"), 404)


async def test_timeout_fails_with_reason_timeout_and_late_reports_are_refused(client):
    job = await running(client, timeout=1)

    async def failed():
        j = (await client.get(f"{G}/jobs/{job['id']}")).json()["job"]
        return j if j["status"] == "error" else None

    assert (await eventually(failed))["reason"] == "timeout"
    id_status(await client.post(f"{G}/jobs/{job['id']}/success"), job["id"], "error")


async def test_retry_returns_the_new_job(client):
    job = await running(client)
    await client.post(f"{G}/jobs/{job['id']}/success")
    r = await client.post(f"{G}/jobs/{job['id']}/retry")
    assert r.status_code == 200, r.text
    new = r.json()["job"]
    assert new["id"] != job["id"] and new["retry_of"] == job["id"] and new["status"] == "queued"
    assert (await client.get(f"{G}/jobs/{job['id']}")).json()["job"]["retry_at"] == new["id"]
    waiting = await enqueue(client)
    id_status(await client.post(f"{G}/jobs/{waiting['id']}/retry"), waiting["id"], "queued")


async def test_cancel(client):
    job = await running(client)
    r = await client.post(f"{G}/jobs/{job['id']}/cancel")
    assert r.status_code == 200
    assert (r.json()["job"]["status"], r.json()["job"]["reason"]) == ("cancelled", "client_request")
    titan_error(await client.post(f"{G}/jobs/{job['id']}/cancel"), 409)
    titan_error(await client.post(f"{G}/jobs/nope/cancel"), 404)


async def test_delete(client):
    job = await enqueue(client)
    id_status(await client.delete(f"{G}/jobs/{job['id']}"), job["id"], "queued")
    await client.post(f"{G}/jobs/{job['id']}/cancel")
    r = await client.delete(f"{G}/jobs/{job['id']}")
    assert r.status_code == 200 and r.content == b""
    titan_error(await client.get(f"{G}/jobs/{job['id']}"), 404)
    titan_error(await client.delete(f"{G}/jobs/{job['id']}"), 404)


async def test_log_upload_and_download(client):
    job = await running(client)
    titan_error(await client.get(f"{G}/jobs/{job['id']}/log"), 428)
    await client.post(f"{G}/jobs/{job['id']}/success")
    r = await client.post(f"{G}/jobs/{job['id']}/log", files={"log": LOG})
    assert r.status_code == 201 and r.json()["job"]["id"] == job["id"]
    log = await client.get(f"{G}/jobs/{job['id']}/log")
    assert log.status_code == 200 and log.text == "frame 1\nframe 2\n"
    assert log.headers["content-type"].startswith("text/plain")


async def test_log_errors(client):
    titan_error(await client.post(f"{G}/jobs/nope/log", files={"log": LOG}), 404)
    titan_error(await client.get(f"{G}/jobs/nope/log"), 404)
    job = await enqueue(client)
    titan_error(await client.post(f"{G}/jobs/{job['id']}/log"), 400)


async def test_own_openapi_document(client):
    doc = (await client.get(f"{B}/openapi.json")).json()
    assert doc["servers"] == [{"url": B}]
    assert {"/jobs", "/groups/{group_name}/jobs/{id}/start"} <= set(doc["paths"])


async def test_consume_as_an_administrator_claims_every_queue(store_url: str) -> None:
    """With no users the caller may work everywhere: its claim takes the best job of every
    queue, and its worker is recorded as asking for every queue."""
    app = create_app(Config(db=store_url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            await enqueue(c, f"{B}/groups/low", priority=1)
            best = await enqueue(c, f"{B}/groups/high", priority=2)
            r = await c.get(f"{B}/jobs")
            assert r.status_code == 200 and [j["id"] for j in r.json()["jobs"]] == [best["id"]]
            [worker] = (await c.get("/api/v1/workers")).json()["workers"]
            assert worker["name"] == titan03.NAME and worker["queues"] is None
