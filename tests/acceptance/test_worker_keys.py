"""A real `jobq worker` against a real `jobq serve` that has users: with a key holding the
worker role it completes jobs; without a key, or with a key that may not work the queue, it
stops with a clear message (exit 2), not a traceback nor an endless retry."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobq.client import Client, Unauthorized
from tests.acceptance.conftest import WorkerProcess
from tests.conftest import Server

pytestmark = pytest.mark.acceptance
QUEUE = "reports"


def jobq(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "jobq", *args], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def person(db: str, name: str) -> str:
    jobq("users", "add", name, "--db", db)
    return str(json.loads(jobq("keys", "create", name, "--db", db, "--json"))["key"])


@pytest.fixture
def keyed(server_db: str) -> Iterator[tuple[Server, dict[str, str]]]:
    keys = {name: person(server_db, name) for name in ("olga", "wendy", "vic")}
    jobq("queues", "owner", QUEUE, "olga", "--db", server_db)
    jobq("queues", "grant", QUEUE, "wendy", "worker", "--db", server_db)
    jobq("queues", "grant", QUEUE, "vic", "viewer", "--db", server_db)
    server = Server(server_db).start()
    yield server, keys
    server.stop()


def refused(worker: WorkerProcess) -> str:
    try:
        code = worker.wait(timeout=60)
    finally:
        worker.stop()
    output = worker.output()
    assert code == 2, output
    assert "Traceback" not in output, output
    return output


def test_a_worker_with_a_key_completes_a_job_and_one_without_stops_clearly(
    keyed: tuple[Server, dict[str, str]], tmp_path: Path
) -> None:
    server, keys = keyed
    with Client(server.url, key=keys["olga"], timeout=60) as olga:
        job = olga.enqueue(QUEUE, "command", {"argv": [sys.executable, "-c", "print('hi')"]})

        anonymous = WorkerProcess(server, tmp_path / "anonymous.log", ("-q", QUEUE), tmp_path)
        output = refused(anonymous)
        assert "401" in output and "--key" in output and "JOBQ_KEY" in output

        viewer = WorkerProcess(server, tmp_path / "viewer.log",
                               ("-q", QUEUE, "--key", keys["vic"]), tmp_path)  # fmt: skip
        assert "403" in refused(viewer)
        assert olga.get(job.id).state == "queued"

        worker = WorkerProcess(server, tmp_path / "worker.log",
                               ("-q", QUEUE, "--key", keys["wendy"]), tmp_path)  # fmt: skip
        try:
            done = olga.get(job.id, wait=120)
        finally:
            worker.stop()
        assert done.state == "succeeded", worker.output()
        assert [e.text for e in olga.logs(job.id).entries] == ["hi"]


def test_the_client_sends_its_key_as_bearer(keyed: tuple[Server, dict[str, str]]) -> None:
    server, keys = keyed
    with Client(server.url) as nobody, pytest.raises(Unauthorized):
        nobody.list_jobs()
    with Client(server.url, key=keys["vic"]) as vic:
        assert vic.list_jobs(queue=QUEUE).jobs == []
