"""Python tasks run by `jobq worker --app module:worker`."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from jobq.client import Client, Job
from tests.acceptance.conftest import WorkerProcess, wait_until
from tests.conftest import Server

pytestmark = pytest.mark.acceptance

APP = """
import asyncio
import os
import time

import jobq

worker = jobq.Worker(queues=["py"], concurrency=4)


@worker.task("flaky")
def flaky(job):
    if job.attempt < 3:
        raise RuntimeError(f"boom {job.attempt}")
    return {"ok": job.attempt}


@worker.task("report")
async def report(job):
    job.log("hello from the task")
    job.progress(1, 4, "first step")
    while not os.path.exists(job.payload["marker"]):
        await asyncio.sleep(0.05)
    return "done"


@worker.task("sync_report")
def sync_report(job):
    job.log("line one\\nline two")
    job.progress(2, 2, "all done")
    return [1, 2, 3]


@worker.task("forever")
async def forever(job):
    job.log("waiting forever")
    await asyncio.sleep(3600)


@worker.task("permanent")
def permanent(job):
    raise jobq.Fail("this will never work", code="bad_input", retryable=False)


@worker.task("noop")
async def noop(job):
    return job.payload


@worker.task("loop")
async def loop(job):
    return type(asyncio.get_running_loop()).__module__


@worker.task("unstorable")
async def unstorable(job):
    return {"too_big": 2**70} if job.payload == "int" else {"a set": {1, 2}}
"""


@pytest.fixture
def app_worker(
    tmp_path: Path, start_worker: Callable[..., WorkerProcess]
) -> Callable[..., WorkerProcess]:
    (tmp_path / "tasks_app.py").write_text(textwrap.dedent(APP))

    def start(*args: str) -> WorkerProcess:
        return start_worker("--app", "tasks_app:worker", *args)

    return start


def test_a_task_that_raises_twice_then_succeeds_ends_succeeded_after_three_attempts(
    client: Client, app_worker: Callable[..., WorkerProcess]
) -> None:
    app_worker()
    job = client.enqueue("py", "flaky", max_attempts=3, backoff_base=0.05, backoff_max=0.1)
    done = client.get(job.id, wait=120)
    assert done.state == "succeeded"
    assert done.result == {"ok": 3}
    assert done.attempt == 3
    attempts = client.attempts(job.id)
    assert [a.outcome for a in attempts] == ["failed", "failed", "succeeded"]
    for n, attempt in enumerate(attempts[:2], start=1):
        assert attempt.error is not None
        assert attempt.error["message"] == f"RuntimeError: boom {n}"
        assert attempt.error["details"]["type"] == "builtins.RuntimeError"
        assert "Traceback" in attempt.error["details"]["traceback"]


@pytest.mark.parametrize(("flags", "module"), [((), "uvloop"), (("--loop", "asyncio"), "asyncio")])
def test_tasks_run_on_uvloop_unless_the_worker_is_told_asyncio(
    client: Client, app_worker: Callable[..., WorkerProcess], flags: tuple[str, ...], module: str
) -> None:
    app_worker(*flags)
    job = client.enqueue("py", "loop")
    done = client.get(job.id, wait=120)
    assert done.state == "succeeded"
    assert str(done.result).split(".")[0] == module


def test_progress_and_log_from_a_task_are_visible_on_the_job_while_it_runs(
    client: Client, app_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    app_worker()
    marker = tmp_path / "go"
    job = client.enqueue("py", "report", {"marker": str(marker)})
    wanted = {"step": 1, "total": 4, "description": "first step"}
    wait_until(lambda: client.get(job.id).progress == wanted, what="progress")
    assert client.get(job.id).state == "running"
    assert [e.text for e in client.logs(job.id).entries] == ["hello from the task"]
    marker.touch()
    done = client.get(job.id, wait=120)
    assert (done.state, done.result) == ("succeeded", "done")
    assert done.progress == {"step": 4, "total": 4, "description": "first step"}


def test_a_sync_task_reports_progress_logs_and_its_result(
    client: Client, app_worker: Callable[..., WorkerProcess]
) -> None:
    app_worker()
    job = client.enqueue("py", "sync_report")
    done = client.get(job.id, wait=120)
    assert (done.state, done.result) == ("succeeded", [1, 2, 3])
    assert done.progress == {"step": 2, "total": 2, "description": "all done"}
    assert [e.text for e in client.logs(job.id).entries] == ["line one", "line two"]


def test_cancel_stops_an_async_task_and_the_job_ends_cancelled(
    client: Client, app_worker: Callable[..., WorkerProcess]
) -> None:
    app_worker()
    job = client.enqueue("py", "forever")
    wait_until(lambda: client.logs(job.id).entries, what="the task to start")
    client.cancel(job.id)
    assert client.get(job.id, wait=120).state == "cancelled"


def test_fail_with_retryable_false_is_not_retried_and_unknown_types_are_left_alone(
    client: Client, app_worker: Callable[..., WorkerProcess]
) -> None:
    app_worker()
    other = client.enqueue("py", "someone_elses_type")
    job = client.enqueue("py", "permanent", max_attempts=5)
    done = client.get(job.id, wait=120)
    assert done.state == "failed"
    assert done.attempt == 1
    assert done.error is not None and done.error["code"] == "bad_input"
    assert client.get(other.id).state == "queued"


def test_many_noop_tasks_complete_through_batched_claims_and_acks(
    client: Client, app_worker: Callable[..., WorkerProcess]
) -> None:
    app_worker("--concurrency", "50", "--batch", "50")
    jobs = client.enqueue_many([{"queue": "py", "type": "noop", "payload": i} for i in range(500)])
    for job in jobs:
        done = client.get(job.id, wait=120)
        assert (done.state, done.result) == ("succeeded", job.payload)


def http_requests(server: Server, route: str) -> float:
    """POST requests to `route` the server has answered, from its /metrics."""
    sample = f'jobq_http_requests_total{{method="POST",route="{route}",status="200"}}'
    for line in httpx.get(f"{server.url}/metrics", timeout=30).text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rpartition(" ")[2])
    return 0.0


def test_claims_of_one_carry_the_acknowledgements_of_the_jobs_before(
    client: Client, server: Server, app_worker: Callable[..., WorkerProcess]
) -> None:
    app_worker("--concurrency", "2", "--batch", "1")
    jobs = client.enqueue_many([{"queue": "py", "type": "noop", "payload": i} for i in range(60)])
    for job in jobs:
        done = client.get(job.id, wait=120)
        assert (done.state, done.result) == ("succeeded", job.payload)
    # each job's outcome rode on a later claim; only the last few (no claim followed within
    # the linger) went out on their own
    assert http_requests(server, "/api/v1/ack") <= len(jobs) // 4
    assert http_requests(server, "/api/v1/claim") >= len(jobs)


def test_a_result_the_server_cannot_store_fails_alone_not_its_batch(
    client: Client, app_worker: Callable[..., WorkerProcess]
) -> None:
    app_worker("--concurrency", "10", "--batch", "10")
    bad = [client.enqueue("py", "unstorable", kind) for kind in ("int", "set")]
    good = client.enqueue_many([{"queue": "py", "type": "noop", "payload": i} for i in range(8)])
    for job in bad:
        done = client.get(job.id, wait=60)
        assert done.state == "failed" and done.error is not None
        assert done.error["code"] == "bad_result"
    assert all(client.get(j.id, wait=60).state == "succeeded" for j in good)


def test_an_outcome_the_server_refuses_does_not_stop_the_worker(
    tmp_path: Path, start_worker: Callable[..., WorkerProcess]
) -> None:
    small = Server(f"sqlite:///{tmp_path / 'small.db'}", "--max-body", "20000").start()
    try:
        (tmp_path / "huge_app.py").write_text(textwrap.dedent(HUGE_APP))
        worker = WorkerProcess(small, tmp_path / "huge.log",
                               ("--app", "huge_app:worker", "--concurrency", "2", "--batch", "1"),
                               tmp_path)  # fmt: skip
        try:
            with Client(small.url, timeout=60) as c:
                huge = c.enqueue("py", "huge", lease_seconds=60, max_attempts=1)
                wait_until(lambda: c.get(huge.id).attempt == 1, what="the huge job to run")
                later = [c.enqueue("py", "noop", i) for i in range(20)]
                for job in later:
                    assert c.get(job.id, wait=60).state == "succeeded"
                _assert_refused(c.get(huge.id, wait=30))  # well before its lease ends
            assert "413" in worker.output() or "too large" in worker.output()
        finally:
            worker.stop()
    finally:
        small.stop()


def _assert_refused(job: Job) -> None:
    """Failed at once, with why, after the server refused the outcome (413)."""
    assert job.state == "failed" and job.error is not None, job
    assert job.error["code"] == "outcome_refused"
    assert job.error["details"] == {"status": 413, "code": "too_large"}
    assert job.attempt == 1


def test_one_refused_outcome_does_not_lose_the_others_of_its_batch(
    tmp_path: Path, start_worker: Callable[..., WorkerProcess]
) -> None:
    """Outcomes go to the server ten at a time; one of them is over the body limit, so the
    server refuses their batch whole. The other nine must still land (their leases are far
    longer than the test waits), and the refused one must fail at once."""
    small = Server(f"sqlite:///{tmp_path / 'small.db'}", "--max-body", "20000").start()
    try:
        (tmp_path / "huge_app.py").write_text(textwrap.dedent(HUGE_APP))
        with Client(small.url, timeout=60) as c:
            c.pause("py")
            huge = c.enqueue("py", "huge", lease_seconds=600, max_attempts=1)
            good = c.enqueue_many([{"queue": "py", "type": "noop", "payload": i,
                                    "lease_seconds": 600} for i in range(9)])  # fmt: skip
            worker = WorkerProcess(small, tmp_path / "huge.log",
                                   ("--app", "huge_app:worker", "--concurrency", "10",
                                    "--batch", "10"), tmp_path)  # fmt: skip
            try:
                wait_until(lambda: any(w.queues == ["py"] for w in c.workers()),
                           what="the worker to claim")  # fmt: skip
                c.resume("py")
                for job in good:
                    assert c.get(job.id, wait=30).state == "succeeded"
                _assert_refused(c.get(huge.id, wait=30))
            finally:
                worker.stop()
    finally:
        small.stop()


HUGE_APP = """
import jobq

worker = jobq.Worker(queues=["py"])


@worker.task("huge")
async def huge(job):
    return "x" * 30000


@worker.task("noop")
async def noop(job):
    return job.payload
"""
