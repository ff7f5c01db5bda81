"""Snooze from the SDK, the Python clients and command jobs, against a real server in a thread:
a task raising (or returning) `jobq.Snooze`, a command exiting 75 with a JOBQ_SNOOZE= line,
`Client.snooze` and `AsyncClient.snooze`. In process, so the coverage floor counts them."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import jobq
from jobq.client import AsyncClient, Client, Job, WorkerId
from jobq.config import Config
from jobq.worker import Settings, TaskContext, Worker, serve
from tests.reliability.inprocess import serve_in_thread

ME = WorkerId("snoozer", "host", 1)


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("snooze") / "jobq.db"
    with serve_in_thread(Config(db=f"sqlite:///{db}", log_level="warning")) as base:
        yield base


@pytest.fixture
def client(url: str) -> Iterator[Client]:
    with Client(url, timeout=60) as c:
        yield c


def app_of(runs: Counter[str]) -> Worker:
    app = Worker(["tasks"], concurrency=4)

    @app.task("later")
    async def later(ctx: TaskContext) -> None:
        runs[ctx.id] += 1
        raise jobq.Snooze(30)

    @app.task("sync_later")
    def sync_later(ctx: TaskContext) -> None:
        runs[ctx.id] += 1
        raise jobq.Snooze(timedelta(minutes=2))

    @app.task("once_more")
    async def once_more(ctx: TaskContext) -> Any:
        runs[ctx.id] += 1
        return jobq.Snooze(0) if runs[ctx.id] == 1 else "done"  # the return form

    @app.task("bad")
    async def bad(ctx: TaskContext) -> None:
        raise jobq.Snooze(-1)

    return app


def run_worker(url: str, app: Worker, queue: str) -> None:
    settings = Settings(queues=[queue], concurrency=4, burst=True, claim_wait=0.1)
    asyncio.run(serve(app, url, settings))


def waits(job: Job, seconds: float, before: datetime, after: datetime) -> bool:
    """Scheduled to run `seconds` after a time between `before` and `after`, the attempt
    given back."""
    assert job.run_at is not None
    run_at = job.run_at
    return (
        job.state == "scheduled"
        and job.attempt == 0
        and before + timedelta(seconds=seconds) <= run_at <= after + timedelta(seconds=seconds)
    )


def test_a_task_snoozes_by_raising_or_returning_snooze(client: Client, url: str) -> None:
    jobs = {
        kind: client.enqueue("tasks", kind, max_attempts=1)
        for kind in ("later", "sync_later", "once_more", "bad")
    }
    runs: Counter[str] = Counter()
    before = datetime.now(UTC)
    run_worker(url, app_of(runs), "tasks")
    after = datetime.now(UTC)
    got = {kind: client.get(job.id) for kind, job in jobs.items()}
    assert waits(got["later"], 30, before, after)
    assert waits(got["sync_later"], 120, before, after)
    assert [a.outcome for a in client.attempts(jobs["later"].id)] == ["snoozed"]
    once_more = got["once_more"]  # snoozed for 0 s, claimed again at once, done: one attempt
    assert (once_more.state, once_more.attempt, once_more.result) == ("succeeded", 1, "done")
    assert runs[jobs["once_more"].id] == 2
    assert got["bad"].state == "failed" and got["bad"].error is not None
    assert "ValueError" in got["bad"].error["message"]  # a Snooze of -1 cannot be made


def command(code: str, **job: Any) -> dict[str, Any]:
    return {"queue": "cmds", "type": "command", "payload": {"argv": [sys.executable, "-c", code]},
            "max_attempts": 1, **job}  # fmt: skip


def test_a_command_snoozes_by_exit_code_75_and_a_line(client: Client, url: str) -> None:
    snoozes = (
        "import os, sys; print('JOBQ_SNOOZE=45'); sys.exit(int(os.environ['JOBQ_SNOOZE_EXIT']))"
    )
    plain_75 = "import sys; sys.exit(75)"
    bad_line = "import sys; print('JOBQ_SNOOZE=soon'); sys.exit(75)"
    line_only = "print('JOBQ_SNOOZE=45')"
    ids = [
        job.id
        for job in client.enqueue_many(
            [command(c) for c in (snoozes, plain_75, bad_line, line_only)]
        )
    ]
    before = datetime.now(UTC)
    run_worker(url, Worker(), "cmds")
    after = datetime.now(UTC)
    snoozed, failed, bad, done = (client.get(i) for i in ids)
    assert waits(snoozed, 45, before, after)
    assert [a.outcome for a in client.attempts(snoozed.id)] == ["snoozed"]
    assert (failed.state, failed.exit_code) == ("failed", 75)  # exit 75 alone: a failure
    assert bad.state == "failed" and bad.error is not None
    assert bad.error["code"] == "bad_snooze"
    assert done.state == "succeeded"  # the line alone: a line of the log


def test_the_clients_snooze_a_claimed_job(client: Client, url: str) -> None:
    job = client.enqueue("by-client", max_attempts=1)
    [held] = client.claim(["by-client"], ME, lease_seconds=60)
    snoozed = client.snooze(held.id, held.lease_token, 0)
    assert (snoozed.state, snoozed.attempt) == ("queued", 0)
    at = datetime.now(UTC) + timedelta(hours=1)

    async def by_async_client() -> Job:
        async with AsyncClient(url) as async_client:
            [again] = await async_client.claim(["by-client"], ME, lease_seconds=60)
            return await async_client.snooze(again.id, again.lease_token, run_at=at)

    later = asyncio.run(by_async_client())
    assert later.id == job.id and later.state == "scheduled"
    assert later.run_at is not None and abs((later.run_at - at).total_seconds()) < 0.01
    with pytest.raises(jobq.StaleLease):
        client.snooze(held.id, held.lease_token, 5)
    with pytest.raises(jobq.InvalidRequest):
        client.snooze(held.id, held.lease_token, -5)


def test_snooze_is_exported_and_checks_its_seconds() -> None:
    from jobq.worker.outcome import Snooze

    assert jobq.Snooze is Snooze and "Snooze" in jobq.__all__
    assert jobq.Snooze(timedelta(seconds=90)).seconds == 90.0
    for wrong in (-1, float("nan"), float("inf"), 366 * 86400):
        with pytest.raises(ValueError):
            jobq.Snooze(wrong)
