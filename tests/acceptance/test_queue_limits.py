"""A queue limited with the real `jobq queues limit` on a real `jobq serve`: a claim over HTTP
gets no more of its jobs than the limit lets run, and the CLI shows what holds."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from tests.conftest import Server

pytestmark = pytest.mark.acceptance


def jobq(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "jobq", *args, "--url", server.url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done


def test_a_concurrency_limit_set_with_the_cli_caps_a_claim(server: Server) -> None:
    limited = json.loads(
        jobq(server, "queues", "limit", "lim", "--concurrency", "2", "--json").stdout
    )
    assert (limited["queue"], limited["concurrency"], limited["rate"]) == ("lim", 2, None)
    jobs = {"jobs": [{"queue": "lim", "payload": i} for i in range(6)]}
    assert httpx.post(f"{server.api}/jobs", json=jobs, timeout=30).status_code == 201
    claim = {"queues": ["lim"], "max": 10, "worker": {"name": "w"}}
    answer = httpx.post(f"{server.api}/claim", json=claim, timeout=30)
    assert answer.status_code == 200 and len(answer.json()["jobs"]) == 2
    again = httpx.post(f"{server.api}/claim", json=claim, timeout=30)
    assert again.status_code == 204
    shown = jobq(server, "queues", "limit", "lim").stdout
    assert "concurrency  2" in shown and "running      2" in shown
    [row] = [
        line for line in jobq(server, "queues", "ls").stdout.splitlines() if line.startswith("lim ")
    ]
    assert "conc 2" in row
