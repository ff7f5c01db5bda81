"""The Accepted queue API (seed 002) as reference/accepted.md reads it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.authkit import running_app
from tests.integration.dialect_client import app_client, eventually
from tests.streamkit import RawCall

B = "/accepted"


@pytest.fixture
async def client(store_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(store_url, callback_allow=["127.0.0.0/8"]) as c:
        yield c


async def enqueue(c: httpx.AsyncClient, queue: str = "myQueue", **headers: str) -> dict:
    r = await c.post(f"{B}/jobs", json={"queue": queue, "params": {"param1": "foo"}},
                     headers=headers)  # fmt: skip
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"{B}/jobs/{r.json()['id']}"
    return r.json()


async def want(c: httpx.AsyncClient, **headers: str) -> httpx.Response:
    return await c.post(f"{B}/want_job", headers=headers)


def accepted_error(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "message", "details"}
    return body


async def test_post_jobs_202_location_and_job(client):
    job = await enqueue(client)
    assert job == {"id": job["id"], "queue": "myQueue", "status": "queued", "priority": 0,
                   "params": {"param1": "foo"}}  # fmt: skip
    r = await client.get(f"{B}/jobs/{job['id']}")
    assert r.status_code == 200 and r.json() == job


async def test_post_jobs_headers(client):
    job = await enqueue(client, **{"X-Accepted-Priority": "3", "X-Accepted-Delay": "600"})
    assert (job["priority"], job["status"]) == (3, "delayed")
    native = (await client.get(f"/api/v1/jobs/{job['id']}")).json()
    assert native["priority"] == 3
    job = await enqueue(client, **{"X-Accepted-Result-TTL": "120", "X-Accepted-Job-Timeout": "30",
                                   "X-Accepted-Callback-URL": "http://127.0.0.1:9/cb"})  # fmt: skip
    native = (await client.get(f"/api/v1/jobs/{job['id']}")).json()
    assert (native["result_ttl"], native["deadline_seconds"]) == (120, 30)
    assert native["callback_url"] == "http://127.0.0.1:9/cb"


@pytest.mark.parametrize(
    "headers",
    [{"X-Accepted-Priority": "4"}, {"X-Accepted-Priority": "high"}, {"X-Accepted-Delay": "-1"},
     {"X-Accepted-Result-TTL": "soon"}, {"X-Accepted-Job-Timeout": "0"},
     {"X-Accepted-Callback-URL": "ftp://x"}],
)  # fmt: skip
async def test_post_jobs_rejects_bad_headers(client, headers):
    r = await client.post(f"{B}/jobs", json={"queue": "q"}, headers=headers)
    accepted_error(r, 400)


@pytest.mark.parametrize("body", [{}, {"queue": ""}, {"queue": "q", "params": [1]}])
async def test_post_jobs_rejects_bad_bodies(client, body):
    accepted_error(await client.post(f"{B}/jobs", json=body), 400)


async def test_post_jobs_rejects_malformed_json(client):
    r = await client.post(f"{B}/jobs", content=b"{", headers={"content-type": "application/json"})
    assert accepted_error(r, 400)["error"] == "malformed_json"


async def test_get_unknown_job_is_404(client):
    accepted_error(await client.get(f"{B}/jobs/nope"), 404)


async def test_want_job_hands_out_by_priority_then_204(client):
    low = await enqueue(client)
    high = await enqueue(client, **{"X-Accepted-Priority": "3"})
    r = await want(client)
    assert r.status_code == 200 and r.json()["id"] == high["id"]
    assert r.json()["params"] == {"param1": "foo"} and r.json()["status"] == "running"
    assert (await want(client)).json()["id"] == low["id"]
    r = await want(client)
    assert r.status_code == 204 and r.content == b""
    assert (await client.post(f"{B}/want_job/")).status_code == 204


async def test_want_job_blocks_until_a_job_arrives(client):
    await enqueue(client, queue="other")  # the queue exists; the worker waits on it
    await want(client)
    waiter = asyncio.create_task(want(client, **{"X-Accepted-Block-For": "30"}))
    await asyncio.sleep(0.3)
    assert not waiter.done()
    job = await enqueue(client, queue="other")
    r = await asyncio.wait_for(waiter, 30)
    assert r.status_code == 200 and r.json()["id"] == job["id"]


@pytest.mark.parametrize("known", [["other"], []], ids=["beside-a-known-queue", "no-queue-yet"])
async def test_want_job_is_handed_a_job_of_a_queue_made_while_it_waits(client, known):
    for queue in known:
        await enqueue(client, queue=queue)
        await want(client)
    waiter = asyncio.create_task(want(client, **{"X-Accepted-Block-For": "30"}))
    await asyncio.sleep(0.3)
    assert not waiter.done()
    job = await enqueue(client, queue="brand-new")
    r = await asyncio.wait_for(waiter, 5)  # at once, not after the 30 s wait
    assert r.status_code == 200 and r.json()["id"] == job["id"]


async def test_a_body_without_content_type_is_json_as_the_seed_writes_it(client):
    body = b'{"queue": "myQueue", "params": {"param1": "foo"}}'
    r = await client.post(f"{B}/jobs", content=body)
    assert r.status_code == 202 and r.json()["params"] == {"param1": "foo"}
    deep = b'{"queue": "q", "params": {"a": ' + b"[" * 300 + b"]" * 300 + b"}}"
    accepted_error(await client.post(f"{B}/jobs", content=deep), 400)  # the same intake
    accepted_error(await client.post(f"{B}/jobs", content=b"{"), 400)


async def test_job_timeout_counts_from_enqueue(client):
    job = await enqueue(client, **{"X-Accepted-Job-Timeout": "0.3"})

    async def failed():
        doc = (await client.get(f"{B}/jobs/{job['id']}")).json()
        return doc if doc["status"] == "failed" else None

    doc = await eventually(failed)  # nobody took it: it fails at its timeout all the same
    assert doc["reason"] == "timeout"
    assert (await want(client)).status_code == 204


async def test_want_job_rejects_bad_headers(client):
    accepted_error(await want(client, **{"X-Accepted-Block-For": "x"}), 400)
    accepted_error(await want(client, **{"X-Accepted-Timeout": "0"}), 400)


async def test_timeout_re_enqueues_an_unfinished_job(client):
    job = await enqueue(client)
    assert (await want(client, **{"X-Accepted-Timeout": "1"})).json()["id"] == job["id"]

    async def requeued():
        return (await client.get(f"{B}/jobs/{job['id']}")).json()["status"] == "queued"

    await eventually(requeued)
    assert (await want(client)).json()["id"] == job["id"]


async def test_job_timeout_fails_the_job(client):
    job = await enqueue(client, **{"X-Accepted-Job-Timeout": "1"})
    await want(client)

    async def failed():
        j = (await client.get(f"{B}/jobs/{job['id']}")).json()
        return j if j["status"] == "failed" else None

    assert (await eventually(failed))["reason"] == "timeout"


async def test_put_done_with_result(client):
    job = await enqueue(client)
    await want(client)
    r = await client.put(f"{B}/jobs/{job['id']}", json={"status": "done", "result": "bar"})
    assert r.status_code == 200
    assert r.json() == {**job, "status": "done", "result": "bar"}


async def test_put_failed_and_running(client):
    job = await enqueue(client)
    await want(client)
    r = await client.put(f"{B}/jobs/{job['id']}", json={"status": "running", "result": "50%"})
    assert r.status_code == 200 and r.json()["status"] == "running"
    native = (await client.get(f"/api/v1/jobs/{job['id']}")).json()
    assert native["progress"]["description"] == "50%"
    r = await client.put(f"{B}/jobs/{job['id']}", json={"status": "failed", "result": {"e": 1}})
    assert (r.json()["status"], r.json()["result"]) == ("failed", {"e": 1})


async def test_put_errors(client):
    job = await enqueue(client)
    err = accepted_error(await client.put(f"{B}/jobs/{job['id']}", json={"status": "done"}), 409)
    assert err["error"] == "not_running" and "token" not in err["message"].lower()
    accepted_error(await client.put(f"{B}/jobs/{job['id']}", json={"status": "finished"}), 400)
    accepted_error(await client.put(f"{B}/jobs/nope", json={"status": "done"}), 404)


async def test_wait_result_returns_once_finished(client):
    job = await enqueue(client)
    await want(client)
    waiter = asyncio.create_task(
        client.get(f"{B}/jobs/{job['id']}", headers={"X-Accepted-Wait-Result": "30"})
    )
    await asyncio.sleep(0.3)
    assert not waiter.done()
    await client.put(f"{B}/jobs/{job['id']}", json={"status": "done", "result": 42})
    r = await asyncio.wait_for(waiter, 30)
    assert (r.json()["status"], r.json()["result"]) == ("done", 42)
    accepted_error(await client.get(f"{B}/jobs/{job['id']}",
                                    headers={"X-Accepted-Wait-Result": "?"}), 400)  # fmt: skip


async def test_delete_cancels_an_unfinished_job_and_deletes_a_finished_one(client):
    job = await enqueue(client)
    r = await client.delete(f"{B}/jobs/{job['id']}")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    r = await client.delete(f"{B}/jobs/{job['id']}")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    accepted_error(await client.get(f"{B}/jobs/{job['id']}"), 404)
    accepted_error(await client.delete(f"{B}/jobs/{job['id']}"), 404)


async def test_delete_a_running_job_refuses_its_later_report(client):
    job = await enqueue(client)
    await want(client)
    assert (await client.delete(f"{B}/jobs/{job['id']}")).json()["status"] == "cancelled"
    r = await client.put(f"{B}/jobs/{job['id']}", json={"status": "done"})
    accepted_error(r, 409)


async def test_result_ttl_purges_the_finished_job(client):
    job = await enqueue(client, **{"X-Accepted-Result-TTL": "1"})
    await want(client)
    await client.put(f"{B}/jobs/{job['id']}", json={"status": "done", "result": 1})

    async def purged():
        return (await client.get(f"{B}/jobs/{job['id']}")).status_code == 404

    await eventually(purged)


async def test_own_openapi_document(client):
    doc = (await client.get(f"{B}/openapi.json")).json()
    assert doc["servers"] == [{"url": B}]
    assert {"/jobs", "/jobs/{uuid}", "/want_job"} <= set(doc["paths"])


async def test_want_job_hands_nothing_to_a_client_that_hung_up(tmp_path, store_url):
    """A long-polling want_job whose client has left gets no job: the job stays queued for
    the next worker instead of sitting out a lease (the native claim's rule)."""
    async with running_app(tmp_path, db=store_url) as (app, c):
        await enqueue(c, queue="q")  # the queue exists; its job goes, the claim then waits
        assert (await want(c)).status_code == 200
        call = RawCall(app, "POST", f"{B}/want_job", {"X-Accepted-Block-For": "30"}).start()
        await asyncio.sleep(0.3)
        await call.hang_up()
        job = await enqueue(c, queue="q")
        assert await call.finished(10)
        assert (await c.get(f"{B}/jobs/{job['id']}")).json()["status"] == "queued"
        assert (await want(c)).json()["id"] == job["id"]


@pytest.mark.parametrize("lease", ["315360000", "604801", "-1", "nan", "inf"])
async def test_want_job_refuses_a_lease_over_the_shared_bound(client, lease):
    """X-Accepted-Timeout is bounded as every interface's lease is: at most 7 days."""
    await enqueue(client)
    accepted_error(await want(client, **{"X-Accepted-Timeout": lease}), 400)
    assert (await want(client, **{"X-Accepted-Timeout": "604800"})).status_code == 200
