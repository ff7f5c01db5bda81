"""Turning authentication on under a running keyless `jobq worker`: the worker stays up, says
once what it needs, and retries; the job it ran goes back to its queue when its lease runs out
(stopped on the worker too), and a worker with a key then runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from jobq.client import Client
from tests.acceptance.conftest import WorkerProcess, alive, running_pid, wait_until
from tests.conftest import Server

pytestmark = pytest.mark.acceptance
PY = sys.executable
WAIT_FOR_MARKER = """
import os, sys, time
open(sys.argv[1], "w").write(str(os.getpid()))
while not os.path.exists(sys.argv[2]):
    time.sleep(0.05)
print("done")
"""


def jobq(*args: str) -> str:
    done = subprocess.run([PY, "-m", "jobq", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_running_worker_survives_the_first_user_and_its_job_is_not_lost(
    server: Server,
    server_db: str,
    client: Client,
    start_worker: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    pid_file, marker = tmp_path / "pid", tmp_path / "go"
    argv = [PY, "-c", WAIT_FOR_MARKER, str(pid_file), str(marker)]
    keyless = start_worker("--queue", "work", "--lease", "3")
    job = client.enqueue("work", "command", {"argv": argv})
    pid = running_pid(pid_file)

    said = jobq("users", "add", "alice", "--admin", "--db", server_db)
    assert "first user" in said and "401" in said and "JOBQ_KEY" in said
    assert "first user" not in jobq("users", "add", "bob", "--db", server_db)
    key = json.loads(jobq("keys", "create", "alice", "--db", server_db, "--json"))["key"]

    line = "the server now refuses this worker (401)"
    wait_until(lambda: line in keyless.output(), what="the worker to say it is refused")
    with Client(server.url, key=key, timeout=60) as alice:
        wait_until(lambda: alice.get(job.id).state == "queued", what="the job back in its queue")
        wait_until(lambda: not alive(pid), what="the refused worker to stop the job's command")
        assert keyless.proc.poll() is None, keyless.output()  # alive, still retrying
        assert keyless.output().count(line) == 1, keyless.output()

        marker.touch()
        start_worker("--queue", "work", "--key", key)
        done = alice.get(job.id, wait=120)
        assert (done.state, done.attempt) == ("succeeded", 2)
    assert keyless.proc.poll() is None, keyless.output()
