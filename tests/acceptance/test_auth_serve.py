"""Protected mode and keys with the real `jobq` command and a real `jobq serve` process."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import Server, free_port

pytestmark = pytest.mark.acceptance


def jobq(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobq", *args], capture_output=True, text=True, timeout=60,
        env=env,
    )  # fmt: skip


def test_a_public_bind_without_users_is_refused(server_db: str) -> None:
    done = jobq("serve", "--db", server_db, "--host", "0.0.0.0", "--port", str(free_port()))
    assert done.returncode != 0
    assert "refusing to serve 0.0.0.0" in done.stderr and "--insecure" in done.stderr


def test_without_users_the_server_says_it_is_open_to_this_machine(server_db: str) -> None:
    server = Server(server_db).start()
    try:
        assert httpx.get(f"{server.api}/jobs").status_code == 200
        assert "no users yet: requests from this machine need no key" in server.output()
    finally:
        server.stop()


def test_with_a_user_every_request_needs_a_key(server_db: str) -> None:
    assert jobq("users", "add", "ann", "--admin", "--db", server_db).returncode == 0
    made = jobq("keys", "create", "ann", "--name", "ci", "--db", server_db, "--json")
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)["key"]
    listed = jobq("keys", "ls", "--db", server_db, "--json")
    assert key not in listed.stdout and json.loads(listed.stdout)[0]["name"] == "ci"
    server = Server(server_db).start()
    try:
        assert httpx.get(f"{server.api}/jobs").status_code == 401
        assert "no users yet" not in server.output()
        auth = {"Authorization": f"Bearer {key}"}
        assert (
            httpx.post(f"{server.api}/jobs", json={"queue": "q"}, headers=auth).status_code == 201
        )
        refused = jobq("jobs", "ls", "--url", server.url)
        assert refused.returncode == 1 and "401" in refused.stderr and refused.stdout == ""
        listed_jobs = jobq("jobs", "ls", "--url", server.url, "--key", key, "--json")
        page = json.loads(listed_jobs.stdout)
        assert listed_jobs.returncode == 0 and page["jobs"][0]["queue"] == "q"
        key_id = json.loads(made.stdout)["id"]
        assert jobq("keys", "revoke", key_id, "--db", server_db).returncode == 0
        give_up = time.monotonic() + 30  # the server's key cache lasts a few seconds
        while httpx.get(f"{server.api}/jobs", headers=auth).status_code != 401:
            assert time.monotonic() < give_up, "a revoked key kept working"
            time.sleep(0.2)
    finally:
        server.stop()
        if server.proc is not None and server.proc.stderr is not None:
            server.proc.stderr.close()  # Server.stop leaves its pipe open
