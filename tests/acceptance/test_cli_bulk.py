"""Bulk work from the `jobq` CLI against a real `jobq serve`, on SQLite and PostgreSQL: many
ids at once, filters confirmed with their count, operations followed to their end, queues
purged and deleted; and an operation that survives a kill -9 of its server."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from bench.bulk_retry import fill_failed

from tests.acceptance.conftest import wait_until
from tests.conftest import Server

pytestmark = pytest.mark.acceptance


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jobq.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def served(db: str) -> Iterator[Server]:
    server = Server(db).start()
    yield server
    server.stop()


def jobq(server: Server, *args: str, answer: str | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "jobq", *args, "--url", server.url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, input=answer or "")


def failed(server: Server, queue: str, n: int, **job: Any) -> list[str]:
    """`n` jobs of `queue` failed for good, through the API; their ids."""
    body = {"jobs": [{"queue": queue, "max_attempts": 1, **job} for _ in range(n)]}
    httpx.post(f"{server.api}/jobs", json=body).raise_for_status()
    claim = {"queues": [queue], "worker": {"name": "w"}, "max": n}
    held = httpx.post(f"{server.api}/claim", json=claim, timeout=30).json()["jobs"]
    acks = [{"id": j["id"], "token": j["lease_token"], "error": {"code": "boom"}} for j in held]
    httpx.post(f"{server.api}/ack", json={"acks": acks}).raise_for_status()
    return [j["id"] for j in held]


def jobs_of(server: Server, **params: Any) -> list[dict[str, Any]]:
    got = httpx.get(f"{server.api}/jobs", params={"limit": 1000, **params}).json()
    return list(got["jobs"])


def test_bulk_commands_confirm_with_the_count_and_follow_the_operation(served: Server):
    ids = failed(served, "mail", 12, metadata={"team": "a"})
    failed(served, "mail", 3, metadata={"team": "b"})
    refused = jobq(served, "jobs", "retry", "--queue", "mail", "--meta", "team=a", answer="n\n")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "Retry 12 jobs (queues mail; metadata" in refused.stderr
    assert jobs_of(served, queue="mail", state="queued") == []
    out = jobq(served, "jobs", "retry", "--queue", "mail", "--meta", "team=a", answer="y\n")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "12 jobs retried, 0 failed (done)" in out.stdout
    retries = jobs_of(served, queue="mail", state="queued")
    assert sorted(j["retry_of"] for j in retries) == sorted(ids)
    again = jobq(served, "jobs", "retry", ids[0])
    assert again.returncode == 1 and again.stdout == ""
    assert "was already retried: its retry is" in again.stderr
    as_json = jobq(served, "jobs", "retry", ids[0], "--json")
    error = json.loads(as_json.stderr)["error"]
    assert (error["code"], error["status"]) == ("conflict", 409)
    assert error["details"]["retried_by"] in {j["id"] for j in retries}
    nothing = jobq(served, "jobs", "retry", "--queue", "mail", "--meta", "team=a", "--json")
    assert nothing.returncode == 0 and json.loads(nothing.stdout)["matched"] == 0
    several = jobq(served, "jobs", "cancel", *[j["id"] for j in retries[:3]], "nope", "--json")
    assert several.returncode == 1  # one of them does not exist
    results = json.loads(several.stdout)
    assert [r["ok"] for r in results] == [True, True, True, False]
    assert results[3]["error"]["code"] == "not_found"
    gone = jobq(served, "jobs", "delete", "--queue", "mail", "--state", "cancelled", "--yes",
                "--json")  # fmt: skip
    assert gone.returncode == 0, gone.stdout + gone.stderr
    op = json.loads(gone.stdout)
    assert (op["action"], op["state"], op["done"]) == ("delete", "done", 3)
    listed = jobq(served, "jobs", "operations", "--json")
    assert [o["action"] for o in json.loads(listed.stdout)] == ["delete", "retry"]


def test_single_job_commands_keep_their_output(served: Server):
    [job] = failed(served, "q", 1)
    out = jobq(served, "jobs", "retry", job, "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["retry_of"] == job
    new = json.loads(out.stdout)["id"]
    cancelled = json.loads(jobq(served, "jobs", "cancel", new, "--json").stdout)
    assert cancelled["state"] == "cancelled" and cancelled["id"] == new
    table = jobq(served, "jobs", "delete", new, job)
    assert table.returncode == 0 and f"{new}: deleted" in table.stdout


def test_queues_are_purged_and_deleted_after_confirmation(served: Server):
    failed(served, "typo", 2)
    httpx.post(f"{served.api}/jobs", json={"jobs": [{"queue": "typo"}] * 4}).raise_for_status()
    out = jobq(served, "queues", "purge", "typo", answer="y\n")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Delete 4 jobs (waiting in queue typo)?" in out.stderr
    assert "4 jobs deleted" in out.stdout
    held = jobq(served, "queues", "delete", "typo", "--yes")
    assert held.returncode == 1 and "holds 2 jobs: add --with-jobs" in held.stderr
    kept = jobq(served, "queues", "delete", "typo", "--with-jobs", answer="n\n")
    assert kept.returncode == 1 and "Delete queue typo and its 2 jobs?" in kept.stderr
    out = jobq(served, "queues", "delete", "typo", "--with-jobs", "--yes")
    assert out.returncode == 0, out.stdout + out.stderr
    names = [q["name"] for q in httpx.get(f"{served.api}/queues").json()["queues"]]
    assert "typo" not in names
    httpx.post(f"{served.api}/queues/empty/pause").raise_for_status()
    out = jobq(served, "queues", "delete", "empty", "--yes")
    assert out.returncode == 0 and "queue empty deleted" in out.stdout


async def _retries(db: str) -> tuple[int, int]:
    """(retries made, distinct jobs they retry), read from the database itself."""
    sql = "SELECT count(*), count(DISTINCT retry_of) FROM jobs WHERE retry_of IS NOT NULL"
    if db.startswith("sqlite"):
        conn = sqlite3.connect(db.removeprefix("sqlite:///"))
        try:
            made, distinct = conn.execute(sql).fetchone()
        finally:
            conn.close()
        return int(made), int(distinct)
    pg = await asyncpg.connect(db)
    try:
        row = await pg.fetchrow(sql)
    finally:
        await pg.close()
    return int(row[0]), int(row[1])


def test_an_operation_resumes_after_kill_9_without_losing_or_doubling_a_job(db: str):
    n = 60_000
    Server(db).start().stop()  # a migrated database
    asyncio.run(fill_failed(db, n, "crash"))
    server = Server(db).start()
    body = {"filter": {"queues": ["crash"]}}
    op = httpx.post(f"{server.api}/jobs/bulk/retry", json=body).json()
    where = f"{server.api}/operations/{op['id']}"

    def midway() -> dict[str, Any] | None:
        now = httpx.get(where).json()
        return now if now["matched"] >= 1000 else None

    before = wait_until(midway, 60, "the operation to be under way")
    server.kill()
    assert before["state"] == "running" and before["matched"] < n, before
    server = Server(db).start()
    try:

        def ended() -> dict[str, Any] | None:
            now = httpx.get(f"{server.api}/operations/{op['id']}").json()
            return now if now["state"] != "running" else None

        after = wait_until(ended, 120, "the operation to resume and end")
        assert (after["state"], after["matched"], after["done"], after["failed"]) == (
            "done", n, n, 0,
        )  # fmt: skip
        assert asyncio.run(_retries(db)) == (n, n)
    finally:
        server.stop()
