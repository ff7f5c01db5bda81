"""Titan 0.2 (seed 000), endpoint by endpoint, from the document and reference/titan.md."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.integration.dialect_client import app_client, eventually

B = "/titan-0.2/v1"
LOG = ("log.txt", b"line 1\nline 2\n", "text/plain; charset=utf-8")


@pytest.fixture
async def client(store_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(store_url) as c:
        yield c


async def enqueue(c: httpx.AsyncClient, **job: object) -> dict:
    r = await c.post(f"{B}/jobs", json={"jobs": [job]})
    assert r.status_code == 201, r.text
    return r.json()["jobs"][0]


async def consume(c: httpx.AsyncClient, n: int = 1) -> list[dict]:
    r = await c.get(f"{B}/jobs/consume", params={"n": n})
    assert r.status_code == 200, r.text
    return r.json()["jobs"]


async def running(c: httpx.AsyncClient, **job: object) -> dict:
    made = await enqueue(c, **job)
    [got] = await consume(c)
    assert got["id"] == made["id"]
    return got


def titan_error(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body["error"]) == {"message", "fields"}
    return body["error"]


async def test_enqueue_applies_the_documented_defaults(client):
    job = await enqueue(client, image="alpine", payload="hi")
    assert job["status"] == "queued" and job["image"] == "alpine" and job["payload"] == "hi"
    assert (job["delay"], job["timeout"], job["priority"]) == (0, 60, 0)
    assert (job["max_retries"], job["retries_delay"]) == (3, 60)
    assert job["created_at"].endswith("Z")
    unset = {"started_at", "completed_at", "retry_of", "reason", "details", "retry_id"}
    assert not unset & set(job), "unset fields are left out, as Titan did (not null)"


async def test_enqueue_with_delay_is_delayed(client):
    job = await enqueue(client, image="a", delay=3600)
    assert job["status"] == "delayed" and job["delay"] == 3600


async def test_enqueue_is_all_or_nothing(client):
    r = await client.post(f"{B}/jobs", json={"jobs": [{"image": "ok"}, {"priority": 3}]})
    assert "jobs.1.priority" in titan_error(r, 400)["fields"]
    assert (await client.get(f"{B}/jobs")).json()["jobs"] == []


@pytest.mark.parametrize(
    "bad", [{"priority": -1}, {"max_retries": 26}, {"timeout": 0}, {"delay": -5}, {"image": 3}]
)
async def test_enqueue_rejects_invalid_fields(client, bad):
    titan_error(await client.post(f"{B}/jobs", json={"jobs": [bad]}), 400)


async def test_enqueue_rejects_malformed_json(client):
    r = await client.post(
        f"{B}/jobs", content=b"{nope", headers={"content-type": "application/json"}
    )
    titan_error(r, 400)


async def test_peek_lists_active_jobs_without_taking_them(client):
    a = await enqueue(client, image="a")
    b = await enqueue(client, image="b", delay=600)
    r = await client.get(f"{B}/jobs", params={"n": 10})
    assert r.status_code == 200
    assert {j["id"]: j["status"] for j in r.json()["jobs"]} == {
        a["id"]: "queued",
        b["id"]: "delayed",
    }
    assert [j["id"] for j in await consume(client)] == [a["id"]]
    titan_error(await client.get(f"{B}/jobs", params={"n": 0}), 400)


async def test_consume_takes_up_to_n_by_priority_and_sets_running(client):
    low = await enqueue(client, image="low", priority=0)
    high = await enqueue(client, image="high", priority=2)
    jobs = await consume(client, n=5)
    assert [j["id"] for j in jobs] == [high["id"], low["id"]]
    assert all(j["status"] == "running" and j["started_at"] for j in jobs)
    assert await consume(client) == []
    titan_error(await client.get(f"{B}/jobs/consume", params={"n": "x"}), 400)


async def test_get_job_and_unknown_job(client):
    job = await enqueue(client, image="a")
    r = await client.get(f"{B}/job/{job['id']}")
    assert r.status_code == 200 and r.json()["job"]["id"] == job["id"]
    titan_error(await client.get(f"{B}/job/nope"), 404)


async def test_success_with_log(client):
    job = await running(client, image="a")
    r = await client.post(f"{B}/job/{job['id']}/success", files={"log": LOG})
    assert r.status_code == 200, r.text
    done = r.json()["job"]
    assert done["status"] == "succeeded" and done["completed_at"] and "reason" not in done
    log = await client.get(f"{B}/job/{job['id']}/log")
    assert log.status_code == 200 and log.text == "line 1\nline 2\n"
    assert log.headers["content-type"].startswith("text/plain")


async def test_success_of_a_job_that_is_not_running_is_refused(client):
    job = await enqueue(client, image="a")
    titan_error(await client.post(f"{B}/job/{job['id']}/success"), 409)
    titan_error(await client.post(f"{B}/job/nope/success"), 404)


async def test_fail_with_reason_details_and_log(client):
    job = await running(client, image="a", max_retries=0)
    form = {"reason": "bad_exit", "details": "exit 3"}
    r = await client.post(f"{B}/job/{job['id']}/fail", data=form, files={"log": LOG})
    assert r.status_code == 200, r.text
    failed = r.json()["job"]
    assert (failed["status"], failed["reason"], failed["details"]) == (
        "failed",
        "bad_exit",
        "exit 3",
    )
    assert "retry_id" not in failed
    assert (await client.get(f"{B}/job/{job['id']}/log")).text == "line 1\nline 2\n"


async def test_fail_errors(client):
    job = await running(client, image="a")
    titan_error(await client.post(f"{B}/job/{job['id']}/fail", data={"reason": "bored"}), 400)
    waiting = await enqueue(client, image="b")
    titan_error(await client.post(f"{B}/job/{waiting['id']}/fail", data={"reason": "killed"}), 409)
    titan_error(await client.post(f"{B}/job/nope/fail", data={"reason": "killed"}), 404)


async def test_failure_with_retries_spawns_a_new_delayed_job(client):
    job = await running(client, image="a", payload="p", max_retries=2, retries_delay=120)
    r = await client.post(f"{B}/job/{job['id']}/fail", data={"reason": "killed"})
    failed = r.json()["job"]
    assert failed["status"] == "failed" and failed["retry_id"]
    retry = (await client.get(f"{B}/job/{failed['retry_id']}")).json()["job"]
    assert retry["retry_of"] == job["id"] and retry["status"] == "delayed"
    assert (retry["image"], retry["payload"], retry["max_retries"]) == ("a", "p", 1)
    assert retry["delay"] == 120
    # a failed job that respawned is not retried by hand
    titan_error(await client.post(f"{B}/job/{job['id']}/retry"), 409)


async def test_timeout_fails_the_job_and_refuses_the_late_success(client):
    job = await running(client, image="a", timeout=1, max_retries=1, retries_delay=0)

    async def timed_out():
        j = (await client.get(f"{B}/job/{job['id']}")).json()["job"]
        return j if j["status"] == "failed" else None

    failed = await eventually(timed_out)
    assert failed["reason"] == "timeout" and failed["retry_id"]
    titan_error(await client.post(f"{B}/job/{job['id']}/success"), 409)
    retry = (await client.get(f"{B}/job/{failed['retry_id']}")).json()["job"]
    assert retry["status"] == "queued" and retry["max_retries"] == 0


async def test_touch_resets_the_timeout(client):
    job = await running(client, image="a", timeout=2)
    for _ in range(3):
        r = await client.post(f"{B}/job/{job['id']}/touch")
        assert r.status_code == 200 and r.content == b""
    assert (await client.get(f"{B}/job/{job['id']}")).json()["job"]["status"] == "running"


async def test_touch_errors(client):
    job = await enqueue(client, image="a")
    titan_error(await client.post(f"{B}/job/{job['id']}/touch"), 409)
    titan_error(await client.post(f"{B}/job/nope/touch"), 404)


async def test_cancel_waiting_and_running_jobs(client):
    waiting = await enqueue(client, image="a", delay=600)
    r = await client.post(f"{B}/job/{waiting['id']}/cancel", json="no longer needed")
    assert r.status_code == 200
    cancelled = r.json()["job"]
    assert (cancelled["status"], cancelled["reason"]) == ("cancelled", "client_request")
    assert cancelled["details"] == "no longer needed"
    raw = await enqueue(client, image="a")  # Titan's generated client sends the string bare
    r = await client.post(f"{B}/job/{raw['id']}/cancel", content=b'{"not": quoted',
                          headers={"content-type": "application/json"})  # fmt: skip
    assert r.status_code == 200 and r.json()["job"]["details"] == '{"not": quoted'
    job = await running(client, image="b")
    r = await client.post(f"{B}/job/{job['id']}/cancel")
    assert r.json()["job"]["status"] == "cancelled"
    titan_error(await client.post(f"{B}/job/{job['id']}/success"), 409)


async def test_cancel_errors(client):
    job = await running(client, image="a")
    await client.post(f"{B}/job/{job['id']}/success")
    titan_error(await client.post(f"{B}/job/{job['id']}/cancel", json="late"), 409)
    bad_text = b"\xff\xfe"
    r = await client.post(f"{B}/job/{job['id']}/cancel", content=bad_text,
                          headers={"content-type": "application/json"})  # fmt: skip
    titan_error(r, 400)
    titan_error(await client.post(f"{B}/job/nope/cancel", json="x"), 404)


async def test_retry_makes_a_new_job(client):
    job = await running(client, image="a", payload="p", max_retries=0)
    await client.post(f"{B}/job/{job['id']}/fail", data={"reason": "bad_exit"})
    r = await client.post(f"{B}/job/{job['id']}/retry")
    assert r.status_code == 200, r.text
    new = r.json()["job"]
    assert new["id"] != job["id"] and new["retry_of"] == job["id"]
    assert (new["status"], new["max_retries"], new["payload"]) == ("queued", 0, "p")
    old = (await client.get(f"{B}/job/{job['id']}")).json()["job"]
    assert old["retry_id"] == new["id"]


async def test_retry_errors(client):
    job = await enqueue(client, image="a")
    titan_error(await client.post(f"{B}/job/{job['id']}/retry"), 409)
    titan_error(await client.post(f"{B}/job/nope/retry"), 404)


async def test_delete_only_finished_jobs(client):
    job = await enqueue(client, image="a")
    titan_error(await client.delete(f"{B}/job/{job['id']}"), 409)
    await client.post(f"{B}/job/{job['id']}/cancel", json="x")
    r = await client.delete(f"{B}/job/{job['id']}")
    assert r.status_code == 200 and r.content == b""
    titan_error(await client.get(f"{B}/job/{job['id']}"), 404)
    titan_error(await client.delete(f"{B}/job/{job['id']}"), 404)


async def test_log_of_unknown_job(client):
    titan_error(await client.get(f"{B}/job/nope/log"), 404)


async def test_a_native_job_in_the_default_queue_gets_titan_defaults(client):
    r = await client.post("/api/v1/jobs", json={"payload": {"k": 1}, "priority": 9})
    native = r.json()
    [job] = await consume(client)
    assert job["id"] == native["id"] and job["payload"] == '{"k":1}'
    assert (job["image"], job["priority"], job["max_retries"], job["timeout"]) == (
        "default",
        2,
        0,
        60,
    )


async def test_own_openapi_document(client):
    r = await client.get(f"{B}/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["servers"] == [{"url": B}]
    assert {"/jobs", "/jobs/consume", "/job/{id}/fail", "/job/{id}/log"} <= set(doc["paths"])
    assert (await client.get(f"{B}/docs")).status_code == 200
    assert f"{B}/docs" in (await client.get("/openapi.json")).json()["info"]["description"]


async def test_unknown_route_answers_in_titan_shape(client):
    titan_error(await client.get(f"{B}/nothing/here"), 404)
