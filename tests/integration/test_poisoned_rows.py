"""Rows poisoned in the database itself (bypassing intake: an older version, a hand edit) never
stop the background duties for other tenants, and every listing still answers 200.

Poisons: a respawn delay of "nan" (SQLite's NOT NULL once refused the respawn, and the whole
expiry batch with it), metadata that is not JSON, times of 1e308 and infinity (their rendering
overflowed), and on SQLite, text in an integer column (the rules cannot compare it: the job
is failed as unprocessable, alone)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from jobq.engine import Engine, JobSpec
from jobq.errors import NotFound
from jobq.model import ClaimSpec, Job, Worker
from jobq.states import State
from tests import pgdb
from tests.authkit import running_app
from tests.receivers import receiving

LISTINGS = [
    "/api/v1/jobs",
    "/api/v1/jobs?queue=poison",
    "/api/v1/jobs?queue=poison&sort=-run_at",
    "/api/v1/queues",
    "/api/v1/problems",
    "/api/v1/stats/queues",
    "/api/v1/stats/throughput",
    "/titan-0.3/v1/groups/poison/jobs",
    "/titan-0.2/v1/jobs",
    "/API/job",
    "/API/job?metadata=true",
]


@pytest.fixture
async def db(store_kind: str, tmp_path: Path) -> AsyncIterator[str]:
    if store_kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'jobq.db'}"
        return
    url = await pgdb.create_database()
    yield url
    await pgdb.drop_database(url)


async def poison(db: str, sql: str, *params: Any) -> None:
    """Write to the database behind jobq's back (`?` placeholders, numbered for PostgreSQL)."""
    if db.startswith("sqlite:///"):
        with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
            conn.execute(sql, params)
        return
    import asyncpg

    for n in range(1, len(params) + 1):
        sql = sql.replace("?", f"${n}", 1)
    conn = await asyncpg.connect(db)
    try:
        await conn.execute(sql, *params)
    finally:
        await conn.close()


async def running(engine: Engine, queue: str, **spec: Any) -> Job:
    [(job, _)] = await engine.enqueue([JobSpec(queue=queue, owner="mallory", **spec)])
    [held] = await engine.claim(ClaimSpec([queue], None, 1, 600.0, Worker("w")))
    assert held.id == job.id
    return held


async def until(check: Any, seconds: float = 15.0) -> None:
    give_up = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < give_up, "the duties did not get there in time"
        await asyncio.sleep(0.05)


async def test_poisoned_rows_stop_neither_the_duties_nor_any_listing(
    db: str, store_kind: str, tmp_path: Path
) -> None:
    async with (
        receiving() as receiver,
        running_app(tmp_path, db=db, callback_allow=["127.0.0.1/32"]) as (app, client),
    ):
        engine: Engine = app.state.engine
        now = time.time()
        nan_delay = await running(engine, "poison", metadata={"jobq.respawn.remaining": "1"},
                                  max_attempts=1)  # fmt: skip
        not_json = await running(engine, "poison")
        far = await running(engine, "poison")
        unprocessable = await running(engine, "poison") if store_kind == "sqlite" else None
        # another tenant's work: a lease that runs out, a result to purge, a callback
        expiring = await running(engine, "other", max_attempts=3)
        done = await running(engine, "other", result_ttl=0.2, callback_url=receiver.url)
        # every job is held before any lease is poisoned: the duties run on their own timer and
        # would hand an expired job to the next claim
        await poison(db, "UPDATE jobs SET metadata = ?, lease_expires_at = ? WHERE id = ?",
                     '{"jobq.respawn.remaining": "1", "jobq.respawn.delay": "nan"}', now - 1,
                     nan_delay.id)  # fmt: skip
        await poison(db, "UPDATE jobs SET metadata = ?, lease_expires_at = ? WHERE id = ?",
                     "{not json", now - 1, not_json.id)  # fmt: skip
        await poison(db, "UPDATE jobs SET run_at = ?, deadline_seconds = ?, started_at = ? "
                     "WHERE id = ?", 1e308, float("inf"), float("-inf"), far.id)  # fmt: skip
        if unprocessable is not None:  # SQLite keeps text in an INTEGER column
            await poison(db, "UPDATE jobs SET attempt = 'x', lease_expires_at = ? WHERE id = ?",
                         now - 1, unprocessable.id)  # fmt: skip
        else:  # PostgreSQL keeps NaN in a double precision column
            await poison(db, "UPDATE jobs SET lease_expires_at = ?, deadline_at = ? WHERE id = ?",
                         float("nan"), float("nan"), far.id)  # fmt: skip

        [(queued_far, _)] = await engine.enqueue([JobSpec(queue="poison", owner="mallory")])
        await poison(db, "UPDATE jobs SET run_at = ?, created_at = ? WHERE id = ?",
                     float("inf"), -1e308, queued_far.id)  # fmt: skip

        await poison(db, "UPDATE jobs SET lease_expires_at = ? WHERE id = ?", now - 1,
                     expiring.id)  # fmt: skip
        assert done.lease_token is not None
        await engine.complete(done.id, done.lease_token, {"ok": True})
        engine.on_timer(engine.clock())  # the duties run now

        async def expired() -> bool:
            return (await engine.get(expiring.id)).state == State.queued

        async def purged() -> bool:
            try:
                await engine.get(done.id)
            except NotFound:
                return True
            return False

        await until(expired)
        await asyncio.wait_for(receiver.arrived.wait(), 15)
        await until(purged)

        respawned = await engine.get(nan_delay.id)
        assert respawned.state == State.failed and respawned.retried_by is not None
        child = await engine.get(respawned.retried_by)
        assert child.state in (State.queued, State.running)  # the NaN delay counted as 0
        assert (await engine.get(not_json.id)).state == State.queued  # expired as usual
        if unprocessable is not None:
            failed = await engine.get(unprocessable.id)
            assert failed.state == State.failed and failed.error is not None
            assert failed.error["code"] == "unprocessable", failed.error

        for path in [*LISTINGS, *(f"/api/v1/jobs/{j.id}" for j in (far, queued_far, not_json))]:
            r = await client.get(path)
            assert r.status_code == 200, (path, r.status_code, r.text[:300])
        shown = (await client.get(f"/api/v1/jobs/{queued_far.id}")).json()
        assert shown["run_at"] == "9999-12-31T23:59:59.999Z"
        assert shown["created_at"] == "0001-01-01T00:00:00.000Z"


async def test_a_job_s_whole_life_still_works_after_its_metadata_is_unreadable(
    db: str, tmp_path: Path
) -> None:
    async with running_app(tmp_path, db=db) as (app, client):
        engine: Engine = app.state.engine
        job = await running(engine, "q")
        await poison(db, "UPDATE jobs SET metadata = ? WHERE id = ?", "[1, 2]", job.id)
        assert job.lease_token is not None
        r = await client.post(f"/api/v1/jobs/{job.id}/complete", json={"token": job.lease_token})
        assert r.status_code == 200, r.text
        assert r.json()["metadata"] == {}


def test_a_poisoned_sqlite_file_is_what_the_test_thinks(tmp_path: Path) -> None:
    """SQLite keeps text in INTEGER and REAL columns as text: the poison above is real."""
    with sqlite3.connect(tmp_path / "t.db") as conn:
        conn.execute("CREATE TABLE t (a INTEGER NOT NULL, b REAL NOT NULL)")
        conn.execute("INSERT INTO t VALUES ('x', ?)", (float("inf"),))
        assert conn.execute("SELECT typeof(a), b FROM t").fetchone() == ("text", float("inf"))
