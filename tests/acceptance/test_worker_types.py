"""A real `jobq worker` claims only the types it can run: the README's `tasks.py` worker runs
its own type and leaves a job of any other type (the `default` of a job enqueued without one)
waiting, shown as a `no_worker` problem, not failed."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jobq.client import Client
from tests.acceptance.conftest import WorkerProcess, wait_until
from tests.conftest import Server

pytestmark = pytest.mark.acceptance

TASKS = """
import jobq

worker = jobq.Worker(queues=["emails"], concurrency=8)

@worker.task("send_email")
async def send_email(job: jobq.TaskContext) -> dict:
    job.log(f"sending to {job.payload['to']}")
    return {"message_id": 42}
"""


@pytest.fixture
def server(server_db: str) -> Iterator[Server]:
    srv = Server(server_db, "--idle-after", "1").start()  # no_worker after a second
    yield srv
    srv.stop()


def enqueue(server: Server, *args: str) -> str:
    """`jobq enqueue ... --json`, as the README has it; the new job's id."""
    cmd = [sys.executable, "-m", "jobq", "enqueue", *args, "--url", server.url, "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["id"])


def test_a_job_no_handler_runs_waits_while_the_worker_runs_its_own_type(
    server: Server,
    client: Client,
    start_worker: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    (tmp_path / "tasks.py").write_text(textwrap.dedent(TASKS))
    untyped = enqueue(server, "emails", '{"to": "ada@example.com"}')  # type default
    start_worker("--app", "tasks:worker")
    job = client.enqueue("emails", "send_email", {"to": "ada@example.com"})
    assert client.get(job.id, wait=120).state == "succeeded"

    def no_worker() -> bool:
        return any(
            p.kind == "no_worker" and p.queue == "emails" and p.type == "default"
            for p in client.problems()
        )

    wait_until(no_worker, what="a no_worker problem for emails/default")
    waiting = client.get(untyped)
    assert (waiting.state, waiting.attempt) == ("queued", 0)


def test_a_command_enqueued_from_the_cli_runs_on_a_plain_worker(
    server: Server, client: Client, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker("--queue", "default")
    job_id = enqueue(server, "default", '{"argv": ["sh", "-c", "echo hello"]}')
    done = client.get(job_id, wait=120)
    assert (done.type, done.state) == ("command", "succeeded")
    assert [e.text for e in client.logs(job_id).entries] == ["hello"]
