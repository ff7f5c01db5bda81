"""Vidispine writes: create, re-run, modify, abort, delete; problems; WAITING and HOLD."""

from __future__ import annotations

import pytest

from jobq.model import ClaimSpec, JobQuery, Worker
from tests.integration.vidispine.conftest import (
    HEADERS,
    JSON,
    NS,
    XML,
    Api,
    assert_error,
    find,
    findall,
    xml,
)

# --- POST /job ---


async def test_create_with_jobmetadata_and_a_json_body_that_wins(api: Api):
    body = {"field": [{"key": "b", "value": "body"}, {"key": "c", "value": "3"}]}
    query = (
        "type=IMPORT&jobmetadata=a%3D1&jobmetadata=b%3Dquery&priority=HIGHEST&notificationData=x"
    )
    r = await api.c.post(f"/API/job?{query}", json=body, headers=JSON)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["type"] == "IMPORT" and doc["priority"] == "HIGHEST" and doc["status"] == "READY"
    job = await api.stored(doc["jobId"])
    assert job.metadata == {"a": "1", "b": "body", "c": "3"}
    assert job.queue == job.type == "IMPORT" and job.priority == 2


async def test_create_with_an_xml_body_answers_xml(api: Api):
    body = (f'<SimpleMetadataDocument xmlns="{NS}"><field><key>k</key><value>v</value></field>'
            "</SimpleMetadataDocument>")  # fmt: skip
    headers = {**XML, "content-type": "application/xml"}
    r = await api.c.post("/API/job?type=IMPORT&jobmetadata=k%3Dq", content=body, headers=headers)
    root = xml(r)
    assert root.tag == f"{{{NS}}}JobDocument" and find(root, "type") == "IMPORT"
    job = await api.stored(find(root, "jobId") or "")
    assert job.metadata == {"k": "v"}


async def test_a_created_job_reaches_a_native_worker(api: Api):
    doc = await api.create("RENDER")
    held = await api.claim("RENDER")
    assert held["id"] == (await api.stored(doc["jobId"])).id
    assert (await api.job(doc["jobId"]))["status"] == "STARTED"


@pytest.mark.parametrize("media", ["json", "xml"])
@pytest.mark.parametrize(
    ("query", "context"),
    [
        ("", "type"),
        ("type=bad%20name", "type"),
        ("type=T&jobmetadata=nokey", "jobmetadata"),
        ("type=T&priority=URGENT", "priority"),
    ],
)
async def test_create_rejects_bad_parameters(api: Api, media: str, query: str, context: str):
    r = await api.c.post(f"/API/job?{query}", headers=HEADERS[media])
    assert_error(r, 400, "invalidInput", media)
    if media == "json":
        assert r.json()["invalidInput"]["context"] == context


@pytest.mark.parametrize("media", ["json", "xml"])
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"{not json"),
        ("application/json", b'{"field": [{"value": "no key"}]}'),
        ("application/xml", b"<SimpleMetadataDocument><field>"),
        ("application/xml", b"<OtherDocument/>"),
        (
            "application/xml",
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            b"<SimpleMetadataDocument><field><key>k</key><value>&b;</value></field>"
            b"</SimpleMetadataDocument>",
        ),
        (
            "text/xml",
            b'<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<SimpleMetadataDocument><field><key>k</key><value>&x;</value></field>"
            b"</SimpleMetadataDocument>",
        ),
    ],
)
async def test_create_rejects_bad_bodies(api: Api, media: str, content_type: str, body: bytes):
    headers = {**HEADERS[media], "content-type": content_type}
    r = await api.c.post("/API/job?type=T", content=body, headers=headers)
    assert_error(r, 400, "invalidInput", media)
    assert await api.engine.list_jobs(JobQuery()) == []


@pytest.mark.parametrize("media", ["json", "xml"])
async def test_create_refuses_other_body_types(api: Api, media: str):
    headers = {**HEADERS[media], "content-type": "application/x-www-form-urlencoded"}
    r = await api.c.post("/API/job?type=T", content=b"a=b", headers=headers)
    assert_error(r, 415, "invalidInput", media)


async def test_create_does_not_offer_text(api: Api):
    r = await api.c.post("/API/job?type=T", headers={"accept": "text/plain"})
    assert_error(r, 406, "invalidInput", "text")  # the error itself comes as the client asks


# --- POST /job/{id}/re-run ---


async def test_re_run_makes_a_new_job_with_its_priority_or_a_new_one(api: Api):
    doc = await api.create(priority="LOW", jobmetadata=["a=1"])
    await api.c.delete(f"/API/job/{doc['jobId']}")
    r = await api.c.post(f"/API/job/{doc['jobId']}/re-run", headers=JSON)
    assert r.status_code == 200, r.text
    again = r.json()
    assert again["jobId"] != doc["jobId"] and again["priority"] == "LOW"
    assert again["status"] == "READY" and again["type"] == "TRANSCODE"
    new = await api.stored(again["jobId"])
    assert new.retry_of == (await api.stored(doc["jobId"])).id and new.metadata == {"a": "1"}
    root = xml(await api.c.post(f"/API/job/{doc['jobId']}/re-run?priority=IMMEDIATE",
                                headers=XML))  # fmt: skip
    assert find(root, "priority") == "IMMEDIATE"


@pytest.mark.parametrize("media", ["json", "xml"])
async def test_re_run_errors(api: Api, media: str):
    h = HEADERS[media]
    assert_error(await api.c.post("/API/job/VX-1/re-run", headers=h), 404, "notFound", media)
    doc = await api.create()
    r = await api.c.post(f"/API/job/{doc['jobId']}/re-run?priority=NOW", headers=h)
    assert_error(r, 400, "invalidInput", media)


async def test_re_run_of_an_unfinished_job_duplicates_it_and_leaves_it_running(api: Api):
    doc = await api.create(priority="LOW", jobmetadata=["a=1"])
    held = await api.claim()
    r = await api.c.post(f"/API/job/{doc['jobId']}/re-run", headers=JSON)
    assert r.status_code == 200, r.text
    again = r.json()
    assert again["jobId"] != doc["jobId"] and again["status"] == "READY"
    new, old = await api.stored(again["jobId"]), await api.stored(doc["jobId"])
    assert new.metadata == {"a": "1"} and new.retry_of is None and old.retried_by is None
    assert old.state == "running" and old.lease_token == held["lease_token"]


# --- PUT /job/{id} ---


@pytest.mark.parametrize(
    ("name", "value"),
    [("LOWEST", -2), ("LOW", -1), ("MEDIUM", 0), ("HIGH", 1), ("HIGHEST", 2), ("IMMEDIATE", 3)],
)
async def test_modify_priority(api: Api, name: str, value: int):
    doc = await api.create(priority="HIGH")
    r = await api.c.put(f"/API/job/{doc['jobId']}?priority={name.lower()}")
    assert r.status_code == 200 and r.content == b""
    assert (await api.stored(doc["jobId"])).priority == value
    assert (await api.job(doc["jobId"]))["priority"] == name


async def test_modify_without_priority_means_medium(api: Api):
    doc = await api.create(priority="HIGH")
    assert (await api.c.put(f"/API/job/{doc['jobId']}")).status_code == 200
    assert (await api.job(doc["jobId"]))["priority"] == "MEDIUM"


async def test_immediate_jobs_are_claimed_first(api: Api):
    first = await api.create(priority="HIGHEST")
    urgent = await api.create()
    await api.c.put(f"/API/job/{urgent['jobId']}?priority=IMMEDIATE")
    assert (await api.claim())["id"] == (await api.stored(urgent["jobId"])).id
    assert (await api.claim())["id"] == (await api.stored(first["jobId"])).id


@pytest.mark.parametrize("media", ["json", "xml", "text"])
async def test_modify_errors(api: Api, media: str):
    h = HEADERS[media]
    assert_error(await api.c.put("/API/job/VX-1?priority=LOW", headers=h), 404, "notFound", media)
    doc = await api.create()
    r = await api.c.put(f"/API/job/{doc['jobId']}?priority=SOON", headers=h)
    assert_error(r, 400, "invalidInput", media)
    await api.c.delete(f"/API/job/{doc['jobId']}")
    r = await api.c.put(f"/API/job/{doc['jobId']}?priority=LOW", headers=h)
    assert_error(r, 409, "conflict", media)
    if media == "json":
        assert r.json()["conflict"]["id"] == doc["jobId"]
        assert r.json()["conflict"]["explanation"] == f"job {doc['jobId']} is ABORTED"


async def test_modify_a_running_job(api: Api):
    doc = await api.create(priority="LOW")
    await api.claim()
    r = await api.c.put(f"/API/job/{doc['jobId']}?priority=HIGHEST")
    assert r.status_code == 200, r.text
    assert (await api.job(doc["jobId"]))["priority"] == "HIGHEST"
    assert (await api.stored(doc["jobId"])).state == "running"


# --- DELETE /job/{id}: abort ---


async def test_abort_a_ready_job_is_aborted_at_once(api: Api):
    doc = await api.create()
    r = await api.c.delete(f"/API/job/{doc['jobId']}?reason=not%20needed&cleanup=false")
    assert r.status_code == 200 and r.content == b""
    assert (await api.job(doc["jobId"]))["status"] == "ABORTED"
    job = await api.stored(doc["jobId"])
    assert job.error and job.error["message"] == "not needed"


async def test_abort_a_running_job_is_pending_until_the_worker_confirms(api: Api):
    doc = await api.create()
    held = await api.claim()
    r = await api.c.delete(f"/API/job/{doc['jobId']}?reason=stop")
    assert r.status_code == 200
    assert (await api.job(doc["jobId"]))["status"] == "ABORTED_PENDING"
    beat = await api.native("POST", f"/jobs/{held['id']}/heartbeat",
                            json={"token": held["lease_token"]})  # fmt: skip
    assert beat.json()["cancel_requested"] is True
    job = await api.stored(doc["jobId"])
    assert job.cancel_reason and job.cancel_reason["details"] == {"cleanup": True}
    listed = await api.c.get("/API/job?state=ABORT_PENDING", headers=JSON)
    assert listed.json()["hits"] == 1
    failed = await api.native("POST", f"/jobs/{held['id']}/fail",
                              json={"token": held["lease_token"]})  # fmt: skip
    assert failed.is_success
    assert (await api.job(doc["jobId"]))["status"] == "ABORTED"


@pytest.mark.parametrize("media", ["json", "xml", "text"])
async def test_abort_errors(api: Api, media: str):
    h = HEADERS[media]
    assert_error(await api.c.delete("/API/job/VX-1", headers=h), 404, "notFound", media)
    doc = await api.create()
    r = await api.c.delete(f"/API/job/{doc['jobId']}?cleanup=perhaps", headers=h)
    assert_error(r, 400, "invalidInput", media)
    await api.c.delete(f"/API/job/{doc['jobId']}")
    r = await api.c.delete(f"/API/job/{doc['jobId']}", headers=h)
    assert_error(r, 409, "conflict", media)
    assert (await api.stored(doc["jobId"])).id not in r.text, "named by its wire id"
    assert "cancelled" not in r.text and f"{doc['jobId']} is ABORTED" in r.text


# --- DELETE /job: delete several ---


async def test_delete_several(api: Api):
    a, b, keep = (await api.create(), await api.create(), await api.create())
    for doc in (a, b):
        await api.c.delete(f"/API/job/{doc['jobId']}")
    r = await api.c.delete(f"/API/job?id={a['jobId']},{b['jobId']},VX-gone")
    assert r.status_code == 200 and r.content == b""
    for doc in (a, b):
        assert (await api.c.get(f"/API/job/{doc['jobId']}", headers=JSON)).status_code == 404
    assert (await api.job(keep["jobId"]))["status"] == "READY"


@pytest.mark.parametrize("media", ["json", "xml", "text"])
async def test_delete_several_errors(api: Api, media: str):
    h = HEADERS[media]
    assert_error(await api.c.delete("/API/job", headers=h), 400, "invalidInput", media)
    done, live = await api.create(), await api.create()
    await api.c.delete(f"/API/job/{done['jobId']}")
    r = await api.c.delete(f"/API/job?id={done['jobId']},{live['jobId']}", headers=h)
    assert_error(r, 409, "conflict", media)
    assert f"{live['jobId']} is READY" in r.text
    assert (await api.job(done["jobId"]))["status"] == "ABORTED", "nothing was deleted"


async def test_delete_of_a_held_job_names_the_state_the_job_shows(api: Api):
    live = await api.create()
    await api.native("POST", "/queues/TRANSCODE/pause")
    r = await api.c.delete(f"/API/job?id={live['jobId']}", headers=JSON)
    assert_error(r, 409, "conflict", "json")
    assert r.json()["conflict"]["explanation"] == f"job {live['jobId']} is HOLD: abort it first"


# --- problems, WAITING and HOLD ---


async def test_paused_queue_shows_hold_and_a_problem(api: Api):
    doc = await api.create()
    await api.native("POST", "/queues/TRANSCODE/pause")
    assert (await api.job(doc["jobId"]))["status"] == "HOLD"
    r = await api.c.get("/API/job/problem", headers=JSON)
    [problem] = r.json()["problem"]
    assert problem["type"] == "queue_paused" and problem["job"] == [doc["jobId"]]
    assert {"key": "queue", "value": "TRANSCODE"} in problem["data"]
    root = xml(await api.c.get("/API/job/problem", headers=XML))
    assert root.tag == f"{{{NS}}}JobProblemListDocument"
    assert [j.text for j in findall(root, "problem/job")] == [doc["jobId"]]
    mine = (await api.c.get(f"/API/job/{doc['jobId']}/problem", headers=JSON)).json()
    assert [p["id"] for p in mine["problem"]] == [problem["id"]]
    native_id = next(d["value"] for d in problem["data"] if d["key"] == "problem")
    native = (await api.native("GET", f"/problems/{native_id}")).json()
    assert native["kind"] == "queue_paused"
    assert native["jobs"] == [(await api.stored(doc["jobId"])).id]
    await api.native("POST", "/queues/TRANSCODE/resume")
    assert (await api.c.get("/API/job/problem", headers=JSON)).json() == {"problem": []}
    assert (await api.native("GET", f"/problems/{native_id}")).status_code == 404
    assert (await api.job(doc["jobId"]))["status"] == "READY"


async def test_a_job_held_by_a_problem_is_waiting(api: Api):
    doc = await api.create(type="FLAKY")
    job = await api.stored(doc["jobId"])
    for _ in range(2):  # two failed attempts: a `failing` problem holds the job
        [held] = await api.engine.claim(ClaimSpec(["FLAKY"], None, 1, None, Worker("w")))
        await api.engine.fail(held.id, held.lease_token or "", {"message": "disk full"})
        await api.engine.update(job.id, run_at=0.0)  # skip the backoff
    doc = await api.job(doc["jobId"])
    assert doc["status"] == "WAITING" and doc["waiting"]["resourceType"] == "failing"
    assert "disk full" in doc["waiting"]["requirement"]
    path = f"/API/job/{doc['jobId']}/problem"
    problems = (await api.c.get(path, headers=JSON)).json()["problem"]
    assert [p["type"] for p in problems] == ["failing"] and problems[0]["job"] == [doc["jobId"]]
    assert isinstance(problems[0]["id"], int)
    assert doc["waiting"]["resourceId"] == f"VX-{problems[0]['id']}"  # the clients' id pattern
    listed = (await api.c.get("/API/job?state=WAITING", headers=JSON)).json()
    assert [j["jobId"] for j in listed["job"]] == [doc["jobId"]]
    by_native_id = await api.c.get(f"/API/job/{job.id}", headers=JSON)
    assert by_native_id.json()["jobId"] == doc["jobId"]


@pytest.mark.parametrize("media", ["json", "xml"])
async def test_problem_errors(api: Api, media: str):
    r = await api.c.get("/API/job/VX-1/problem", headers=HEADERS[media])
    assert_error(r, 404, "notFound", media)
    r = await api.c.get("/API/job/problem", headers={"accept": "text/plain"})
    assert_error(r, 406, "invalidInput", "text")


async def test_native_problem_list_and_unknown_id(api: Api):
    assert (await api.native("GET", "/problems")).json() == {"problems": []}
    r = await api.native("GET", "/problems/queue_paused-000000000000")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


async def test_unknown_path_and_method_answer_in_vidispine_shape(api: Api):
    r = await api.c.get("/API/nothing", headers=JSON)
    assert r.status_code == 404 and r.json()["notFound"]["id"] == "/API/nothing"
    r = await api.c.patch("/API/job", headers=JSON)
    assert r.status_code == 405 and "invalidInput" in r.json()
