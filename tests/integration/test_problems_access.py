"""`GET /api/v1/problems` shows each caller only what its rights let it read elsewhere (issue
26, finding 20): a worker sees its queues' problems in outline (kind, where, how many), never
the job ids or error texts it may not read with GET; readers see them whole."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from jobq.auth import service
from jobq.engine import JobSpec
from jobq.model import ClaimSpec, Worker
from tests.authkit import add_person, auth_store_of, bearer, running_app
from tests.conftest import STORES
from tests.pgdb import create_database, drop_database

SECRET = "password=hunter2 in /srv/payroll"


async def _failing_job(app: object) -> str:
    """A live job of queue `pay` whose attempts failed twice with SECRET in their error."""
    engine = app.state.engine  # type: ignore[attr-defined]
    spec = JobSpec(queue="pay", type="t", max_attempts=5, backoff_base=0.0, backoff_max=0.0)
    [(job, _)] = await engine.enqueue([spec])
    for _ in range(2):
        await engine.promote_due(time.time() + 1)
        # waits: on PostgreSQL the duties may hold the row a moment (claims skip locked rows)
        [held] = await engine.claim(ClaimSpec(["pay"], None, 1, None, Worker("w")), wait=10)
        await engine.fail(held.id, held.lease_token, {"code": "boom", "message": SECRET})
    return str(job.id)


@pytest.mark.parametrize("kind", STORES)
async def test_a_worker_sees_problems_in_outline_only(kind: str, tmp_path: Path) -> None:
    db = None if kind == "sqlite" else await create_database()
    try:
        async with running_app(tmp_path, db=db) as (app, client):
            store = auth_store_of(app)
            owner, worker = await add_person(store, "ann"), await add_person(store, "wes")
            viewer = await add_person(store, "vic")
            await store.set_queue_owner("pay", "ann", time.time())
            await service.grant(store, "pay", "wes", "worker", time.time())
            await service.grant(store, "pay", "vic", "viewer", time.time())
            job_id = await _failing_job(app)
            for key in (owner, viewer):
                [p] = (await client.get("/api/v1/problems", headers=bearer(key))).json()["problems"]
                assert p["kind"] == "failing" and p["jobs"] == [job_id] and SECRET in p["message"]
            r = await client.get("/api/v1/problems", headers=bearer(worker))
            [p] = r.json()["problems"]
            assert p["kind"] == "failing" and p["queue"] == "pay" and p["job_count"] == 1
            assert p["jobs"] == [] and job_id not in r.text and "hunter2" not in r.text
            one = await client.get(f"/api/v1/problems/{p['id']}", headers=bearer(worker))
            assert one.status_code == 200 and job_id not in one.text and "hunter2" not in one.text
            # what the worker may read elsewhere agrees: not the job, not its error
            assert (
                await client.get(f"/api/v1/jobs/{job_id}", headers=bearer(worker))
            ).status_code == 403
    finally:
        if db is not None:
            await drop_database(db)
