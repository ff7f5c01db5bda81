"""Vidispine reads: GET /job/{id}, GET /job, GET /jobtype, in JSON, XML and text/plain."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest

from tests.authkit import add_person, auth_store_of, running_app
from tests.integration.vidispine.conftest import (
    HEADERS,
    JSON,
    NS,
    TEXT,
    XML,
    Api,
    assert_error,
    find,
    findall,
    xml,
)

# --- GET /job/{job-id} ---


async def test_get_job_in_json_xml_and_text(api: Api):
    job = await api.create(jobmetadata=["a=1", "b=2"])
    r = await api.c.get(f"/API/job/{job['jobId']}", headers=JSON)
    doc = r.json()
    assert doc["jobId"] == job["jobId"] and doc["status"] == "READY"
    assert doc["type"] == "TRANSCODE" and doc["priority"] == "MEDIUM" and "data" not in doc
    root = xml(await api.c.get(f"/API/job/{job['jobId']}", headers=XML))
    assert root.tag == f"{{{NS}}}JobDocument"
    assert find(root, "jobId") == job["jobId"] and find(root, "status") == "READY"
    r = await api.c.get(f"/API/job/{job['jobId']}", headers=TEXT)
    assert r.headers["content-type"].startswith("text/plain") and r.text == "READY"


async def test_get_job_metadata_and_field(api: Api):
    job = await api.create(jobmetadata=["a=1", "b=2"])
    full = await api.job(job["jobId"], metadata="true")
    assert full["data"] == [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]
    some = await api.job(job["jobId"], field="b")
    assert some["data"] == [{"key": "b", "value": "2"}]
    root = xml(await api.c.get(f"/API/job/{job['jobId']}?metadata=true", headers=XML))
    assert [find(d, "key") for d in findall(root, "data")] == ["a", "b"]


async def test_steps_and_progress_come_from_the_workers_progress(api: Api):
    job = await api.create()
    held = await api.claim()
    beat = {"token": held["lease_token"],
            "progress": {"step": 2, "total": 4, "description": "encoding"}}  # fmt: skip
    assert (await api.native("POST", f"/jobs/{held['id']}/heartbeat", json=beat)).is_success
    doc = await api.job(job["jobId"])
    assert doc["status"] == "STARTED" and doc["totalSteps"] == 4
    assert doc["currentStep"] == {"number": 2, "description": "encoding", "status": "STARTED"}
    tasks = doc["log"]["task"]
    assert [t["step"] for t in tasks] == [1, 2] and tasks[0]["status"] == "FINISHED"
    assert tasks[1]["progress"] == {"value": 50.0, "total": 100, "unit": "percent"}
    assert tasks[1]["attempts"] == 1
    root = xml(await api.c.get(f"/API/job/{job['jobId']}", headers=XML))
    assert find(root, "currentStep/description") == "encoding"
    assert find(root, "totalSteps") == "4"


@pytest.mark.parametrize("media", ["json", "xml", "text"])
async def test_get_job_unknown_is_not_found(api: Api, media: str):
    r = await api.c.get("/API/job/VX-404", headers=HEADERS[media])
    assert_error(r, 404, "notFound", media)
    if media == "json":
        assert r.json() == {"notFound": {"type": "job", "id": "VX-404"}}


@pytest.mark.parametrize("media", ["json", "xml"])
async def test_get_job_bad_metadata_flag(api: Api, media: str):
    job = await api.create()
    r = await api.c.get(f"/API/job/{job['jobId']}?metadata=maybe", headers=HEADERS[media])
    assert_error(r, 400, "invalidInput", media)


async def test_unacceptable_accept_is_406_in_xml(api: Api):
    job = await api.create()
    r = await api.c.get(f"/API/job/{job['jobId']}", headers={"accept": "image/png"})
    assert_error(r, 406, "invalidInput", "xml")


async def test_no_accept_header_answers_xml_and_q_values_count(api: Api):
    job = await api.create()
    r = await api.c.get(f"/API/job/{job['jobId']}", headers={"accept": ""})
    assert xml(r).tag == f"{{{NS}}}JobDocument"
    pref = {"accept": "application/xml;q=0.5, application/json"}
    r = await api.c.get(f"/API/job/{job['jobId']}", headers=pref)
    assert r.headers["content-type"] == "application/json"


# --- GET /job ---


async def test_list_jobs_hits_paging_and_sort(api: Api):
    ids = [(await api.create())["jobId"] for _ in range(5)]
    r = await api.c.get("/API/job", params={"first": 2, "number": 2}, headers=JSON)
    doc = r.json()
    assert doc["hits"] == 5 and [j["jobId"] for j in doc["job"]] == ids[::-1][1:3]
    r = await api.c.get("/API/job", params={"sort": "jobId asc", "number": 3}, headers=JSON)
    assert [j["jobId"] for j in r.json()["job"]] == ids[:3]
    root = xml(await api.c.get("/API/job?number=1", headers=XML))
    assert root.tag == f"{{{NS}}}JobListDocument" and find(root, "hits") == "5"
    assert len(findall(root, "job")) == 1


async def test_list_filters_by_type_state_priority_and_metadata(api: Api):
    a = await api.create("A", jobmetadata=["team=x"])
    b = await api.create("B", priority="HIGH", jobmetadata=["team=y"])
    await api.create("C")
    await api.c.delete(f"/API/job/{a['jobId']}")

    async def ids(**params: object) -> list[str]:
        r = await api.c.get("/API/job", params=params, headers=JSON)
        assert r.status_code == 200, r.text
        return sorted(j["jobId"] for j in r.json()["job"])

    assert await ids(type="A,B") == sorted([a["jobId"], b["jobId"]])
    assert await ids(state="ABORTED") == [a["jobId"]]
    assert await ids(state="READY", type="B") == [b["jobId"]]
    assert await ids(priority="HIGH") == [b["jobId"]]
    assert await ids(jobmetadata="team=y") == [b["jobId"]]
    assert await ids(state="ABORT_PENDING") == []  # the older spelling is accepted
    assert len(await ids(type="all", state="all")) == 3


async def test_list_time_windows_are_inclusive(api: Api):
    job = await api.create()
    started = job["started"]
    assert (await api.c.get("/API/job", params={"starttime-from": started,
                                                "starttime-to": started},
                            headers=JSON)).json()["hits"] == 1  # fmt: skip
    later = "2999-01-01T00:00:00Z"
    r = await api.c.get("/API/job", params={"starttime-from": later}, headers=JSON)
    assert r.json()["hits"] == 0
    await api.c.delete(f"/API/job/{job['jobId']}")
    finished = (await api.job(job["jobId"]))["finished"]
    r = await api.c.get("/API/job", params={"finishtime-from": finished,
                                            "finishtime-to": finished}, headers=JSON)  # fmt: skip
    assert r.json()["hits"] == 1
    r = await api.c.get("/API/job", params={"finishtime-to": "2000-01-01T00:00:00Z"},
                        headers=JSON)  # fmt: skip
    assert r.json()["hits"] == 0


async def test_idonly_in_json_xml_and_text(api: Api):
    ids = [(await api.create())["jobId"] for _ in range(2)]
    r = await api.c.get("/API/job?idonly=true&sort=jobId%20asc", headers=JSON)
    required = {"status": "READY", "type": "TRANSCODE", "priority": "MEDIUM"}  # the schema's
    assert r.json() == {"hits": 2, "job": [{"jobId": i, **required} for i in ids]}
    root = xml(await api.c.get("/API/job?idonly=true&sort=jobId%20asc", headers=XML))
    assert [find(j, "jobId") for j in findall(root, "job")] == ids
    r = await api.c.get("/API/job?sort=jobId%20asc", headers=TEXT)
    assert r.text == "".join(f"{i}\r\n" for i in ids)


async def test_list_step_and_metadata_options(api: Api):
    await api.create(jobmetadata=["k=v"])
    plain = (await api.c.get("/API/job", headers=JSON)).json()["job"][0]
    assert "log" not in plain and "data" not in plain
    rich = (await api.c.get("/API/job?step=true&metadata=true", headers=JSON)).json()["job"][0]
    assert rich["log"] == {"task": []} and rich["data"] == [{"key": "k", "value": "v"}]
    only = (await api.c.get("/API/job?field=nope", headers=JSON)).json()["job"][0]
    assert only["data"] == []


def basic(user: str, key: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{key}".encode()).decode()
    return {**JSON, "Authorization": f"Basic {token}"}


async def test_user_true_lists_only_the_callers_jobs_and_others_are_hidden(
    tmp_path: Path, store_url: str
):
    """With users, Vidispine speaks HTTP basic (user name + key); jobq's roles apply."""
    async with running_app(tmp_path, db=store_url) as (app, c):
        store = auth_store_of(app)
        root = basic("root", await add_person(store, "root", admin=True))
        ada = basic("ada", await add_person(store, "ada"))
        bob = basic("bob", await add_person(store, "bob"))
        assert (await c.get("/API/job", headers=JSON)).status_code == 401
        assert "Basic" in (await c.get("/API/job", headers=JSON)).headers["www-authenticate"]
        mine = (await c.post("/API/job?type=ADA", headers=ada)).json()
        assert mine["user"] == "ada"
        theirs = (await c.post("/API/job?type=BOB", headers=bob)).json()
        listed = (await c.get("/API/job", headers=ada)).json()
        assert [j["jobId"] for j in listed["job"]] == [mine["jobId"]]
        assert (await c.get("/API/job?user=false", headers=ada)).json()["hits"] == 1
        everyone = (await c.get("/API/job?user=false", headers=root)).json()
        assert everyone["hits"] == 2
        assert (await c.get(f"/API/job/{theirs['jobId']}", headers=ada)).status_code == 404
        assert (await c.delete(f"/API/job/{theirs['jobId']}", headers=ada)).status_code == 404
        assert (await c.get("/API/jobtype", headers=ada)).json()["uri"] == ["ADA"]


@pytest.mark.parametrize("media", ["json", "xml", "text"])
@pytest.mark.parametrize(
    "params",
    [
        {"state": "SLEEPING"},
        {"sort": "colour asc"},
        {"sort": "jobId sideways"},
        {"first": "0"},
        {"number": "many"},
        {"idonly": "yes"},
        {"starttime-from": "yesterday"},
        {"starttime-to": "2020-01-01T00:00:00"},
        {"jobmetadata": "novalue"},
        {"priority": "URGENT"},
    ],
)
async def test_list_rejects_bad_parameters(api: Api, media: str, params: dict[str, str]):
    r = await api.c.get("/API/job", params=params, headers=HEADERS[media])
    assert_error(r, 400, "invalidInput", media)
    if media == "json":
        assert r.json()["invalidInput"]["context"] == next(iter(params))


# --- GET /jobtype ---


async def test_job_types_in_json_xml_and_text(api: Api):
    await api.create("IMPORT")
    await api.create("TRANSCODE")
    r = await api.c.get("/API/jobtype", headers=JSON)
    assert r.json() == {"hits": 2, "uri": ["IMPORT", "TRANSCODE"]}
    root = xml(await api.c.get("/API/jobtype", headers=XML))
    assert root.tag == f"{{{NS}}}URIListDocument"
    assert [u.text for u in findall(root, "uri")] == ["IMPORT", "TRANSCODE"]
    r = await api.c.get("/API/jobtype", headers=TEXT)
    assert r.text == "IMPORT\r\nTRANSCODE\r\n"


async def test_job_types_unacceptable_accept(api: Api):
    r = await api.c.get("/API/jobtype", headers={"accept": "application/pdf"})
    assert_error(r, 406, "invalidInput", "xml")


async def test_reads_run_concurrently_without_errors(api: Api):
    await api.create()
    replies = await asyncio.gather(*(api.c.get("/API/job", headers=XML) for _ in range(10)))
    assert all(r.status_code == 200 for r in replies)
