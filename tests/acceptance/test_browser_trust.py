"""What a web page can make a browser do to a real `jobq serve`, over real HTTP: loopback Host
names only while there are no users (DNS rebinding), no cross-site writes on any interface,
and X-Forwarded-For believed only from --trusted-proxy (issue 26, findings 6 and 18)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Server

pytestmark = pytest.mark.acceptance

CROSS_SITE = {"Sec-Fetch-Site": "cross-site"}
SAME_SITE = {"Sec-Fetch-Site": "same-site"}  # another port of localhost is the same site
EVIL_ORIGIN = {"Origin": "http://evil.example"}
SIMPLE = {"Content-Type": "text/plain"}  # a body a cross-site form or fetch sends unpreflighted


@pytest.fixture
def open_server(server_db: str) -> Iterator[Server]:
    """A server with no users: open mode, loopback only."""
    srv = Server(server_db).start()
    yield srv
    srv.stop()


def jobq(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "jobq", *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def enqueue(c: httpx.Client, queue: str) -> dict[str, object]:
    r = c.post("/api/v1/jobs", json={"queue": queue})
    assert r.status_code == 201, r.text
    job: dict[str, object] = r.json()
    return job


def state(c: httpx.Client, job_id: object) -> str:
    return str(c.get(f"/api/v1/jobs/{job_id}").json()["state"])


def test_with_no_users_only_loopback_host_names_are_served(open_server: Server) -> None:
    port = open_server.port
    with httpx.Client(base_url=open_server.url, timeout=30) as c:
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "LOCALHOST", f"[::1]:{port}"):
            assert c.get("/api/v1/jobs", headers={"Host": host}).status_code == 200, host
        rebound = {"Host": f"attacker.example:{port}"}
        r = c.post("/api/v1/users", json={"name": "mallory", "admin": True}, headers=rebound)
        assert r.status_code == 421
        assert r.json()["error"]["code"] == "host_not_allowed"
        assert "loopback" in r.json()["error"]["message"]
        assert c.get("/api/v1/users").json()["users"] == []  # nobody was made
        # every interface refuses the name, each in its own error shape
        assert "error" in c.get("/titan-0.3/v1/jobs", headers=rebound).json()
        assert c.get("/titan-0.2/v1/jobs/consume", headers=rebound).status_code == 421
        assert c.post("/accepted/want_job", headers=rebound).json()["error"] == "host_not_allowed"
        assert c.get("/__api__/server_settings", headers=rebound).json()["code"] is not None
        r = c.get("/API/job", headers=rebound)
        assert r.status_code == 421 and "ErrorDocument" in r.text
        assert c.get("/ui/", headers=rebound).status_code == 421
        assert c.get("/docs", headers=rebound).status_code == 421


def test_a_cross_site_request_never_changes_state_on_any_interface(open_server: Server) -> None:
    with httpx.Client(base_url=open_server.url, timeout=30) as c:
        waiting, grouped = enqueue(c, "default"), enqueue(c, "g")
        # Titan's GET consume, as an <img> on another site would send it
        for path in ("/titan-0.2/v1/jobs/consume", "/titan-0.3/v1/jobs"):
            for signal in (CROSS_SITE, SAME_SITE):
                r = c.get(path, headers=signal)
                assert r.status_code == 403, (path, r.text)
                assert "another web site" in r.json()["error"]["message"]
        assert state(c, waiting["id"]) == state(c, grouped["id"]) == "queued"
        # simple POSTs: native enqueue, Accepted want_job, a Vidispine re-run with no body
        r = c.post("/api/v1/jobs", content='{"queue": "q"}', headers={**SIMPLE, **CROSS_SITE})
        assert r.status_code == 403 and r.json()["error"]["code"] == "cross_site"
        r = c.post("/api/v1/jobs", content='{"queue": "q"}', headers={**SIMPLE, **EVIL_ORIGIN})
        assert r.status_code == 403 and r.json()["error"]["details"]["sent_by"].startswith("Origin")
        r = c.post("/accepted/want_job?queue=default", headers=CROSS_SITE)
        assert r.status_code == 403 and r.json()["error"] == "cross_site"
        assert state(c, waiting["id"]) == "queued"
        done = _finished(c)
        r = c.post(f"/API/job/VX-{done['seq']}/re-run", headers=CROSS_SITE)
        assert r.status_code == 403 and "forbidden" in r.text
        r = c.post(f"/API/job/VX-{done['seq']}/re-run", headers=EVIL_ORIGIN)
        assert r.status_code == 403
        r = c.delete("/__api__/v1/content/default/jobs/x", headers=CROSS_SITE)
        assert r.status_code == 403 and "code" in r.json()
        assert c.post("/ui/logout", data={"csrf": "x"}, headers=CROSS_SITE).status_code == 403
        listed = c.get("/api/v1/jobs?limit=100").json()["jobs"]
        assert len(listed) == 3  # nothing enqueued, nothing re-run
        # reading is not refused, and the same requests work same-origin or from a program
        assert c.get("/api/v1/jobs", headers=CROSS_SITE).status_code == 200
        own = {"Sec-Fetch-Site": "same-origin", "Origin": open_server.url}
        assert c.post(f"/API/job/VX-{done['seq']}/re-run", headers=own).status_code == 200
        r = c.get("/titan-0.2/v1/jobs/consume")  # no browser headers: a program
        assert r.status_code == 200 and r.json()["jobs"][0]["id"] == waiting["id"]
        r = c.get("/titan-0.3/v1/jobs", headers=own)
        assert r.status_code == 200 and len(r.json()["jobs"]) == 1
        assert len(c.get("/api/v1/jobs?state=running").json()["jobs"]) == 2


def _finished(c: httpx.Client) -> dict[str, object]:
    job = enqueue(c, "vx")
    worker = {"name": "w", "host": "h", "pid": 1}
    [claimed] = c.post("/api/v1/claim", json={"queues": ["vx"], "worker": worker}).json()["jobs"]
    r = c.post(f"/api/v1/jobs/{job['id']}/complete", json={"token": claimed["lease_token"]})
    assert r.status_code == 200, r.text
    return job


def _user_with_key(db: str) -> str:
    jobq("users", "add", "ann", "--admin", "--db", db)
    return str(json.loads(jobq("keys", "create", "ann", "--db", db, "--json"))["key"])


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(server_db: str) -> None:
    key = _user_with_key(server_db)
    guesses = [{"Authorization": "Bearer jobq_bad", "X-Forwarded-For": f"10.0.0.{i}"}
               for i in range(4)]  # fmt: skip
    direct = Server(server_db, "--auth-fail-limit", "3").start()
    try:  # a client naming a new address for every guess is still one client
        statuses = [httpx.get(f"{direct.api}/jobs", headers=h).status_code for h in guesses]
        assert statuses == [401, 401, 401, 429]
        good = {"Authorization": f"Bearer {key}", "X-Forwarded-For": "10.9.9.9"}
        assert httpx.get(f"{direct.api}/jobs", headers=good).status_code == 429
    finally:
        direct.stop()
    proxied = Server(server_db, "--auth-fail-limit", "3", "--trusted-proxy", "127.0.0.0/8")
    proxied.start()
    try:  # behind a trusted proxy, the address it forwards is the client's
        statuses = [httpx.get(f"{proxied.api}/jobs", headers=h).status_code for h in guesses]
        assert statuses == [401, 401, 401, 401]
        again = [httpx.get(f"{proxied.api}/jobs", headers=guesses[0]).status_code
                 for _ in range(3)]  # fmt: skip
        assert again == [401, 401, 429]
    finally:
        proxied.stop()
