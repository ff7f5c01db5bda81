"""Titan 0.2, Titan 0.3 and Accepted served by a real `jobq serve` process."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import httpx
import orjson
import pytest

from tests.conftest import Server

pytestmark = pytest.mark.acceptance
T2, T3, ACC, NATIVE = "/titan-0.2/v1", "/titan-0.3/v1", "/accepted", "/api/v1"


@pytest.fixture
def v1_server(server_db: str) -> Iterator[Server]:
    srv = Server(server_db, "--mount", "titan-0.3=/v1").start()
    yield srv
    srv.stop()


def test_a_job_crosses_every_dialect_with_the_right_status_names(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        r = c.post(f"{T3}/groups/crossing/jobs",
                   json={"jobs": [{"image": "img", "priority": 2, "payload": "data"}]})  # fmt: skip
        assert r.status_code == 201
        job_id = r.json()["jobs"][0]["id"]
        assert r.json()["jobs"][0]["status"] == "queued"

        taken = c.post(f"{ACC}/want_job", params={"queue": "crossing"})
        assert taken.status_code == 200 and taken.json()["id"] == job_id
        assert (taken.json()["params"], taken.json()["priority"]) == ("data", 2)
        assert c.get(f"{ACC}/jobs/{job_id}").json()["status"] == "running"
        assert c.get(f"{T2}/job/{job_id}").json()["job"]["status"] == "running"

        token = taken.json()["lease_token"]
        done = c.post(f"{NATIVE}/jobs/{job_id}/complete", json={"token": token, "result": 7})
        assert done.status_code == 200 and done.json()["state"] == "succeeded"

        assert c.get(f"{T2}/job/{job_id}").json()["job"]["status"] == "succeeded"
        assert c.get(f"{T3}/groups/crossing/jobs/{job_id}").json()["job"]["status"] == "success"
        assert c.get(f"{ACC}/jobs/{job_id}").json() == {
            "id": job_id, "queue": "crossing", "status": "done", "priority": 2,
            "params": "data", "result": 7,
        }  # fmt: skip


def test_titan_03_remounted_at_v1(v1_server: Server) -> None:
    with httpx.Client(base_url=v1_server.url, timeout=30) as c:
        r = c.post("/v1/groups/g/jobs", json={"jobs": [{"image": "i", "priority": 0}]})
        assert r.status_code == 201
        [job] = c.get("/v1/jobs").json()["jobs"]  # 0.3's GET /jobs consumes
        assert job["status"] == "running"
        assert c.post(f"/v1/groups/g/jobs/{job['id']}/success").json()["job"]["status"] == "success"
        bad = c.post("/v1/groups/g/jobs", json={"jobs": [{"priority": 0}]})
        assert bad.status_code == 400 and set(bad.json()["error"]) == {"message", "fields"}
        assert c.get("/v1/openapi.json").json()["servers"] == [{"url": "/v1"}]
        assert c.get(f"{T3}/jobs").status_code == 404  # no longer at the default prefix
        assert c.get(f"{T2}/jobs").status_code == 200  # the others stay where they were
        assert "/v1/docs" in c.get("/openapi.json").json()["info"]["description"]


@pytest.mark.parametrize("mount", ["accepted=/", "accepted="])
def test_accepted_at_the_root_beside_the_others(server_db: str, mount: str) -> None:
    srv = Server(server_db, "--mount", mount).start()
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            r = c.post("/jobs", json={"queue": "root", "params": {"n": 1}})  # the seed's path
            assert r.status_code == 202, r.text
            assert r.headers["location"] == f"/jobs/{r.json()['id']}"
            assert c.get(r.headers["location"]).json()["status"] == "queued"
            assert c.post("/want_job", params={"queue": "root"}).json()["id"] == r.json()["id"]
            assert c.get(f"{NATIVE}/jobs/{r.json()['id']}").json()["state"] == "running"
            assert c.get(f"{T2}/jobs").status_code == 200 and c.get("/API/jobtype").is_success
            assert c.get(f"{ACC}/jobs/{r.json()['id']}").status_code == 404
            docs = c.get("/accepted/openapi.json").json()  # the root's own are the app's
            assert docs["servers"] == [{"url": "/"}] and "/want_job" in docs["paths"]
            assert c.get("/openapi.json").json()["info"]["title"] == "jobq"
            missing = c.get("/jobs/nope")
            assert missing.status_code == 404 and missing.json()["error"] == "not_found"
            assert "error" in c.get("/healthz/nothing").json()
    finally:
        srv.stop()


def test_titan_02_lifecycle_with_log_and_malformed_json(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        c.post(f"{T2}/jobs", json={"jobs": [{"image": "i", "payload": "p"}]})
        [job] = c.get(f"{T2}/jobs/consume").json()["jobs"]
        log = ("log.txt", b"ran\n", "text/plain; charset=utf-8")
        r = c.post(f"{T2}/job/{job['id']}/fail", data={"reason": "killed", "details": "oom"},
                   files={"log": log})  # fmt: skip
        assert r.json()["job"]["status"] == "failed" and r.json()["job"]["retry_id"]
        assert c.get(f"{T2}/job/{job['id']}/log").text == "ran\n"
        bad = c.post(f"{T2}/jobs", content=b"{", headers={"content-type": "application/json"})
        assert bad.status_code == 400 and "error" in bad.json()


class _Catcher(http.server.BaseHTTPRequestHandler):
    bodies: list[dict] = []
    arrived = threading.Event()

    def do_POST(self) -> None:
        length = int(self.headers["content-length"])
        type(self).bodies.append(orjson.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()
        type(self).arrived.set()

    def log_message(self, *args: object) -> None:
        return None


def test_accepted_callback_url_receives_the_finished_job(server_db: str) -> None:
    catcher = http.server.HTTPServer(("127.0.0.1", 0), _Catcher)
    threading.Thread(target=catcher.serve_forever, daemon=True).start()
    srv = Server(server_db, "--callback-allow", "127.0.0.0/8").start()
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            url = f"http://127.0.0.1:{catcher.server_address[1]}/done"
            r = c.post(f"{ACC}/jobs", json={"queue": "cb", "params": {}},
                       headers={"X-Accepted-Callback-URL": url})  # fmt: skip
            job_id = r.json()["id"]
            c.post(f"{ACC}/want_job", params={"queue": "cb"})
            c.put(f"{ACC}/jobs/{job_id}", json={"status": "done", "result": "ok"})
        assert _Catcher.arrived.wait(30)
        assert _Catcher.bodies[0] == {
            "id": job_id,
            "queue": "cb",
            "status": "done",
            "priority": 0,
            "params": {},
            "result": "ok",
        }  # the seed's
    finally:
        srv.stop()
        catcher.shutdown()
        catcher.server_close()
