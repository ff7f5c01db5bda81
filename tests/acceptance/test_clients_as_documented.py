"""Real clients and the seed documents' own requests against a real `jobq serve`.

The `vidispine` client from PyPI through every JobApi method of seed 004 (WAITING jobs,
`idonly`, problems; XML where the client cannot go, by hand); the Accepted requests of seed 002
byte for byte at the seed's own root paths; Titan 0.2's cancel as its generated client sends it
(seed 000: the details string bare under `Content-Type: application/json`) and its multipart
forms. posit-sdk (seed 003) is driven in test_connect_sdk.py.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from xml.etree import ElementTree

import httpx
import orjson
import pytest
import vidispine
from vidispine.rest import ApiException

from tests.conftest import Server

pytestmark = pytest.mark.acceptance
NS = "{http://xml.vidispine.com/schema/vidispine}"


@pytest.fixture
def served(server_db: str) -> Iterator[Server]:
    """Accepted at its seed's root, Titan 0.2 at /v1 as its document has it, and untaken
    jobs reported as a no_worker problem (WAITING in Vidispine) after half a second."""
    srv = Server(server_db, "--mount", "accepted=/", "--mount", "titan-0.2=/v1",
                 "--idle-after", "0.5").start()  # fmt: skip
    yield srv
    srv.stop()


def job_api(server: Server) -> vidispine.JobApi:
    conf = vidispine.Configuration()
    conf.host = f"{server.url}/API"
    conf.username, conf.password = "admin", "key"  # open loopback mode ignores them
    return vidispine.JobApi(vidispine.ApiClient(conf))


def raw(server: Server, request: bytes) -> tuple[int, bytes]:
    """Send `request` as written (plus Host, which HTTP/1.1 requires) and read the answer."""
    top, _, content = request.partition(b"\n\n")
    head, *headers = top.split(b"\n")
    lines = [head, f"Host: 127.0.0.1:{server.port}".encode(), b"Connection: close", *headers]
    if content:
        lines.append(f"Content-Length: {len(content)}".encode())
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + content)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


# --- seed 004: the vidispine client, every method ---


def test_vidispine_client_through_every_method_with_waiting_jobs(served: Server):
    api = job_api(served)
    body = vidispine.SimpleMetadataType(field=[vidispine.StorageGroupTypeData(key="k", value="v")])
    job = api.create_custom_job("TRANSCODE", body, jobmetadata=["a=1"], priority="HIGH")
    time.sleep(1.0)  # nobody takes it: a no_worker problem holds it
    waiting = api.get_job(job.job_id)
    assert waiting.status == "WAITING" and waiting.waiting.resource_type == "no_worker"
    assert waiting.waiting.resource_id.startswith("VX-")
    listed = api.get_jobs(user=False, state=["WAITING"], step=True, metadata=True)
    assert [j.job_id for j in listed.job] == [job.job_id] and listed.job[0].waiting
    ids = api.get_jobs(idonly=True)
    assert [(j.job_id, j.status, j.type) for j in ids.job] == [(job.job_id, "WAITING",
                                                                 "TRANSCODE")]  # fmt: skip
    [problem] = api.get_all_job_problems().problem
    assert problem.type == "no_worker" and problem.job == [job.job_id]
    assert f"VX-{problem.id}" == waiting.waiting.resource_id
    assert [p.id for p in api.get_job_problems(job.job_id).problem] == [problem.id]
    assert api.get_job_types().uri == ["TRANSCODE"]

    claim = {"queues": ["TRANSCODE"], "worker": {"name": "w"}}
    [held] = httpx.post(f"{served.api}/claim", json=claim).json()["jobs"]
    api.update_job(job.job_id, priority="LOWEST")  # a running job's priority changes too
    assert api.get_job(job.job_id).priority == "LOWEST"
    twin = api.create_duplicate_job(job.job_id, priority="IMMEDIATE")  # a running job's too
    assert twin.job_id != job.job_id and twin.priority == "IMMEDIATE"
    api.abort_job(job.job_id, reason="not needed", cleanup=False)
    assert api.get_job(job.job_id).status == "ABORTED_PENDING"
    stop = {"token": held["lease_token"], "error": {"code": "killed"}}
    httpx.post(f"{served.api}/jobs/{held['id']}/fail", json=stop).raise_for_status()
    assert api.get_job(job.job_id).status == "ABORTED"
    with pytest.raises(ApiException) as late:
        api.abort_job(job.job_id)
    assert late.value.status == 409
    conflict = ElementTree.fromstring(late.value.body).find(f"{NS}conflict")  # XML: no Accept
    assert conflict is not None and conflict.findtext(f"{NS}id") == job.job_id
    assert conflict.findtext(f"{NS}explanation") == f"job {job.job_id} is ABORTED"
    api.abort_job(twin.job_id)
    api.delete_jobs([job.job_id, twin.job_id])
    with pytest.raises(ApiException) as missing:
        api.get_job(job.job_id)
    assert missing.value.status == 404


def test_vidispine_xml_documents(served: Server):
    xml = {"accept": "application/xml"}
    body = ('<SimpleMetadataDocument xmlns="http://xml.vidispine.com/schema/vidispine">'
            "<field><key>k</key><value>v</value></field></SimpleMetadataDocument>")  # fmt: skip
    made = httpx.post(f"{served.url}/API/job?type=IMPORT", content=body,
                      headers={**xml, "content-type": "application/xml"})  # fmt: skip
    job_id = ElementTree.fromstring(made.content).findtext(f"{NS}jobId")
    time.sleep(1.0)
    doc = ElementTree.fromstring(httpx.get(f"{served.url}/API/job/{job_id}", headers=xml).content)
    assert doc.findtext(f"{NS}status") == "WAITING"
    assert (doc.findtext(f"{NS}waiting/{NS}resourceId") or "").startswith("VX-")
    ids = httpx.get(f"{served.url}/API/job?idonly=true", headers=xml)
    [listed] = ElementTree.fromstring(ids.content).findall(f"{NS}job")
    assert [c.tag.removeprefix(NS) for c in listed] == ["jobId", "status", "type", "priority"]
    problems = httpx.get(f"{served.url}/API/job/problem", headers=xml)
    assert ElementTree.fromstring(problems.content).findtext(f"{NS}problem/{NS}job") == job_id


# --- seed 002: the requests as the document writes them, at its root paths ---


def test_accepted_requests_as_the_seed_writes_them(served: Server):
    status, body = raw(served, b'POST /jobs HTTP/1.1\n\n{\n  "queue": "myQueue",\n'
                               b'  "params": {\n    "param1": "foo" \n  }\n}')  # fmt: skip
    assert status == 202
    job = orjson.loads(body)
    assert job["params"] == {"param1": "foo"} and job["status"] == "queued"
    status, body = raw(served, f"GET /jobs/{job['id']} HTTP/1.1\n".encode())
    assert status == 200 and orjson.loads(body)["queue"] == "myQueue"
    status, body = raw(served, b"POST /want_job/ HTTP/1.1\n")
    assert status == 200
    assert orjson.loads(body)["id"] == job["id"]
    put = f'PUT /jobs/{job["id"]} HTTP/1.1\n\n{{\n  "status": "done",\n  "result": "bar"\n}}'
    status, body = raw(served, put.encode())
    assert status == 200
    assert {k: v for k, v in orjson.loads(body).items() if k != "id"} == {
        "queue": "myQueue", "status": "done", "priority": 0, "params": {"param1": "foo"},
        "result": "bar"}  # fmt: skip
    status, body = raw(served, f"DELETE /jobs/{job['id']} HTTP/1.1\n".encode())
    assert status == 200 and orjson.loads(body)["result"] == "bar"
    assert raw(served, b"POST /want_job/ HTTP/1.1\n")[0] == 204


# --- seed 000: Titan 0.2 as its generated client sends it ---


def test_titan_02_cancel_and_forms_as_the_generated_client_sends_them(served: Server):
    with httpx.Client(base_url=served.url, timeout=30) as c:
        made = c.post("/v1/jobs", json={"jobs": [{"image": "alpine", "payload": "p"}]})
        [job] = made.json()["jobs"]
        assert not {"started_at", "completed_at", "reason", "details", "retry_id"} & set(job)
        r = c.post(f"/v1/job/{job['id']}/cancel", content=b"no longer needed",
                   headers={"content-type": "application/json"})  # fmt: skip
        assert r.status_code == 200, r.text
        assert r.json()["job"]["details"] == "no longer needed"
        c.post("/v1/jobs", json={"jobs": [{"image": "alpine"}]})
        [taken] = c.get("/v1/jobs/consume").json()["jobs"]
        log = ("log.txt", b"ran\n", "text/plain; charset=utf-8")
        r = c.post(f"/v1/job/{taken['id']}/fail", data={"reason": "killed", "details": "oom"},
                   files={"log": log})  # fmt: skip
        assert r.json()["job"]["status"] == "failed" and r.json()["job"]["details"] == "oom"
        assert c.get(f"/v1/job/{taken['id']}/log").content == b"ran\n"
