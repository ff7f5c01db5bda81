"""Real clients and the seed documents' own requests against a real `jobq serve`.

The `vidispine` client from PyPI through every JobApi method of seed 004 (WAITING jobs,
`idonly`, problems; XML where the client cannot go, by hand); the Accepted requests of seed 002
byte for byte at the seed's own root paths, every `X-Accepted-*` header of its tables
included; Titan 0.2 and 0.3 (seeds 000 and 001) through every operation with the headers their
documents give it, as their generated clients send them (0.2's cancel details bare under
`Content-Type: application/json`, multipart forms, bodyless calls typed JSON). posit-sdk
(seed 003) is driven in test_connect_sdk.py.
"""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from xml.etree import ElementTree

import httpx
import orjson
import pytest
import vidispine
from vidispine.rest import ApiException

from tests.acceptance.conftest import wait_until
from tests.conftest import Server

pytestmark = pytest.mark.acceptance
NS = "{http://xml.vidispine.com/schema/vidispine}"


@pytest.fixture
def served(server_db: str) -> Iterator[Server]:
    """Accepted at its seed's root, Titan 0.2 at /v1 as its document has it, and untaken
    jobs reported as a no_worker problem (WAITING in Vidispine) after half a second;
    callbacks may reach loopback."""
    srv = Server(server_db, "--mount", "accepted=/", "--mount", "titan-0.2=/v1",
                 "--idle-after", "0.5", "--callback-allow", "127.0.0.0/8").start()  # fmt: skip
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


class _Hook(http.server.HTTPServer):
    """A callback receiver on loopback: the body of each POST, in order."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _HookPost)
        self.bodies: list[bytes] = []


class _HookPost(http.server.BaseHTTPRequestHandler):
    server: _Hook

    def do_POST(self) -> None:
        self.server.bodies.append(self.rfile.read(int(self.headers["content-length"])))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def hook() -> Iterator[_Hook]:
    srv = _Hook()
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def accepted_job(served: Server, job_id: str) -> tuple[int, dict]:
    status, body = raw(served, f"GET /jobs/{job_id} HTTP/1.1\n".encode())
    return status, orjson.loads(body)


def test_accepted_request_headers_as_the_seed_names_them(served: Server, hook: _Hook):
    """Every X-Accepted-* header of seed 002's tables, sent raw at the seed's paths."""
    job = b'\n\n{"queue": "myQueue", "params": {"param1": "foo"}}'
    hook_url = f"http://127.0.0.1:{hook.server_address[1]}/done"
    low = orjson.loads(raw(served, b"POST /jobs HTTP/1.1\nX-Accepted-Priority: 1" + job)[1])
    urgent_head = (
        b"POST /jobs HTTP/1.1\nX-Accepted-Priority: 3\nX-Accepted-Result-TTL: 1\n"
        b"X-Accepted-Callback-URL: " + hook_url.encode()
    )
    urgent = orjson.loads(raw(served, urgent_head + job)[1])
    assert (urgent["priority"], low["priority"]) == (3, 1)
    assert orjson.loads(raw(served, b"POST /want_job/ HTTP/1.1\n")[1])["id"] == urgent["id"]
    lease = b"POST /want_job/ HTTP/1.1\nX-Accepted-Timeout: 1\n"
    assert orjson.loads(raw(served, lease)[1])["id"] == low["id"]

    wait = f"GET /jobs/{urgent['id']} HTTP/1.1\nX-Accepted-Wait-Result: 30\n".encode()
    with ThreadPoolExecutor(1) as pool:
        waiter = pool.submit(raw, served, wait)
        time.sleep(0.3)
        assert not waiter.done(), "the wait holds until the job has finished"
        done = f'PUT /jobs/{urgent["id"]} HTTP/1.1\n\n{{"status": "done", "result": "bar"}}'
        assert raw(served, done.encode())[0] == 200
        status, body = waiter.result(30)
    assert status == 200 and orjson.loads(body)["result"] == "bar"
    wait_until(lambda: hook.bodies, what="the callback")
    delivered = orjson.loads(hook.bodies[0])  # the seed's job document
    assert (delivered["id"], delivered["status"], delivered["result"]) == (urgent["id"], "done",
                                                                           "bar")  # fmt: skip
    wait_until(lambda: accepted_job(served, urgent["id"])[0] == 404, what="the result TTL")
    wait_until(lambda: accepted_job(served, low["id"])[1]["status"] == "queued",
               what="the lease of X-Accepted-Timeout to run out")  # fmt: skip
    assert raw(served, f"DELETE /jobs/{low['id']} HTTP/1.1\n".encode())[0] == 200

    later = orjson.loads(raw(served, b"POST /jobs HTTP/1.1\nX-Accepted-Delay: 1" + job)[1])
    assert later["status"] == "delayed" and raw(served, b"POST /want_job/ HTTP/1.1\n")[0] == 204
    status, body = raw(served, b"POST /want_job/ HTTP/1.1\nX-Accepted-Block-For: 30\n")
    assert status == 200 and orjson.loads(body)["id"] == later["id"], "handed out once due"
    assert raw(served, f"DELETE /jobs/{later['id']} HTTP/1.1\n".encode())[0] == 200

    untaken = orjson.loads(raw(served, b"POST /jobs HTTP/1.1\nX-Accepted-Job-Timeout: 1" + job)[1])
    wait_until(lambda: accepted_job(served, untaken["id"])[1]["status"] == "failed",
               what="X-Accepted-Job-Timeout, counted from enqueue")  # fmt: skip


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


# --- seeds 000 and 001: every operation with the headers their documents give it ---

JSON_CALL = {"content-type": "application/json", "accept": "application/json"}
LOG_CALL = {"content-type": "application/json", "accept": "text/plain"}
FORM_CALL = {"accept": "application/json"}  # multipart: the client sets the boundary
LOG = ("job.log", b"ran\n", "text/plain; charset=utf-8")


def no_nulls(answer: httpx.Response) -> dict:
    """The JSON answer, checked to hold no null anywhere (Titan left unset fields out)."""
    assert answer.is_success, answer.text
    assert b"null" not in answer.content, answer.text
    return dict(answer.json())


def test_titan_02_every_operation_with_the_documents_headers(served: Server):
    """Seed 000's JavaScript client sends `Content-Type: application/json` on every call but
    the multipart ones, bodyless GET, DELETE and POST included."""
    with httpx.Client(base_url=f"{served.url}/v1", timeout=30) as c:
        new = {"jobs": [{"image": "alpine", "payload": "p", "priority": 2}, {"image": "busybox"}]}
        made = no_nulls(c.post("/jobs", json=new, headers=JSON_CALL))["jobs"]
        assert [j["status"] for j in made] == ["queued", "queued"]
        peeked = no_nulls(c.get("/jobs", params={"n": 10}, headers=JSON_CALL))["jobs"]
        assert {j["id"] for j in peeked} == {j["id"] for j in made}
        [first] = no_nulls(c.get("/jobs/consume", params={"n": 1}, headers=JSON_CALL))["jobs"]
        assert first["id"] == made[0]["id"] and first["status"] == "running"
        touched = c.post(f"/job/{first['id']}/touch", headers=JSON_CALL)
        assert touched.status_code == 200 and touched.content == b""
        done = no_nulls(c.post(f"/job/{first['id']}/success", files={"log": LOG},
                               headers=FORM_CALL))["job"]  # fmt: skip
        assert done["status"] == "succeeded" and done["completed_at"]
        log = c.get(f"/job/{first['id']}/log", headers=LOG_CALL)
        assert log.status_code == 200 and log.content == b"ran\n"
        again = no_nulls(c.post(f"/job/{first['id']}/retry", headers=JSON_CALL))["job"]
        assert again["retry_of"] == first["id"] and again["status"] == "queued"
        assert (
            no_nulls(c.get(f"/job/{first['id']}", headers=JSON_CALL))["job"]["retry_id"]
            == (again["id"])
        )
        cancelled = c.post(f"/job/{again['id']}/cancel", content=b"not needed", headers=JSON_CALL)
        assert no_nulls(cancelled)["job"]["reason"] == "client_request"
        gone = c.delete(f"/job/{first['id']}", headers=JSON_CALL)
        assert gone.status_code == 200 and gone.content == b""
        assert c.get(f"/job/{first['id']}", headers=JSON_CALL).status_code == 404


def test_titan_03_every_operation_as_its_generated_client_sends_it(served: Server):
    """Seed 001 as Titan 0.3.3's generated JavaScript client sends it: `Content-Type:
    application/json` on every call but the log upload, and `/error`'s `reason` (a form
    parameter under that JSON type) sent nowhere, so the job fails as bad_exit; a form
    field `reason`, as the document names it, is read too."""
    with httpx.Client(base_url=f"{served.url}/titan-0.3/v1", timeout=30) as c:
        new = {"jobs": [{"image": "alpine", "priority": 1, "payload": "p"}] * 3}
        made = no_nulls(c.post("/groups/render/jobs", json=new, headers=JSON_CALL))["jobs"]
        since = {"created_after": "1970-01-01T00:00:00.000Z", "n": 2}  # Date.toJSON()
        listed = no_nulls(c.get("/groups/render/jobs", params=since, headers=JSON_CALL))["jobs"]
        assert [j["id"] for j in listed] == [j["id"] for j in made], "a page ends on a new ms"
        [taken] = no_nulls(c.get("/jobs", params={"n": 1}, headers=JSON_CALL))["jobs"]
        job = f"/groups/render/jobs/{taken['id']}"
        assert c.post(f"{job}/touch", headers=JSON_CALL).status_code == 200
        assert no_nulls(c.post(f"{job}/success", headers=JSON_CALL))["job"]["status"] == "success"
        uploaded = c.post(f"{job}/log", files={"log": LOG}, headers=FORM_CALL)
        assert uploaded.status_code == 201 and no_nulls(uploaded)["job"]["id"] == taken["id"]
        assert c.get(f"{job}/log", headers=LOG_CALL).content == b"ran\n"
        retried = no_nulls(c.post(f"{job}/retry", headers=JSON_CALL))["job"]
        assert retried["retry_of"] == taken["id"]
        cancelled = no_nulls(c.post(f"/groups/render/jobs/{retried['id']}/cancel",
                                    headers=JSON_CALL))["job"]  # fmt: skip
        assert (cancelled["status"], cancelled["reason"]) == ("cancelled", "client_request")
        gone = c.delete(job, headers=JSON_CALL)
        assert gone.status_code == 200 and gone.content == b""

        second, third = (f"/groups/render/jobs/{j['id']}" for j in made[1:])
        start = {"started_at": "2030-01-01T00:00:00.000Z"}
        assert no_nulls(c.post(f"{second}/start", json=start, headers=JSON_CALL))["job"][
            "status"] == "running"  # fmt: skip
        failed = no_nulls(c.post(f"{second}/error", headers=JSON_CALL))["job"]
        assert (failed["status"], failed["reason"]) == ("error", "bad_exit")
        c.post(f"{third}/start", json=start, headers=JSON_CALL).raise_for_status()
        killed = c.post(f"{third}/error", files={"reason": (None, "killed")}, headers=FORM_CALL)
        assert no_nulls(killed)["job"]["reason"] == "killed"
