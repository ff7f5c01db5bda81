"""What the console (the dashboard) reads from the native API and the engine, on both stores:
waits beside throughput over up to a week, read one queue at a time; workers' slots, liveness
and the jobs they hold, of the caller's queues only; a listing's total and its previous page;
a scheduled job run now."""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobq.engine import Defaults, Engine, JobSpec, stats
from jobq.model import ClaimSpec, Worker
from jobq.notify import Notifier
from jobq.store.base import Store
from jobq.store.sqlite.reads import FINISHED_COUNTS, IN_JSON
from tests.authkit import add_person, auth_store_of, bearer, running_app


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_throughput_counts_carry_the_waits_of_the_jobs_that_started(store: Store) -> None:
    clock = Clock(10_000.0)
    engine = Engine(store, Notifier(), Defaults(), clock=clock)
    [(ran, _)] = await engine.enqueue([JobSpec(queue="a", type="t")])
    [(never, _)] = await engine.enqueue([JobSpec(queue="a", type="t")])
    clock.now += 12.5  # the first waits 12.5 s, then runs for 30
    [held] = await engine.claim(ClaimSpec(["a"], None, 1, None, Worker("w")))
    assert held.id == ran.id and held.lease_token is not None
    clock.now += 30
    await engine.complete(ran.id, held.lease_token, None)
    await engine.cancel(never.id)  # never started: counted, but not among the waits
    counts = await store.finished_counts(10_000.0, 60)
    got = {(c.queue, c.bucket, c.state): (c.count, c.waited, c.wait_seconds) for c in counts}
    assert got == {("a", 0, "succeeded"): (1, 1, 12.5), ("a", 0, "cancelled"): (1, 0, 0.0)}
    among = await store.finished_counts(10_000.0, 60, queues=["a", "a", "elsewhere"])
    assert sorted((c.state, c.count) for c in among) == [("cancelled", 1), ("succeeded", 1)]


def test_a_tenants_throughput_reads_its_own_queues_index_ranges(tmp_path: Path) -> None:
    """The plan is the contract here: on SQLite, one search of jobs_queue_finished per queue
    asked (by queue and finished_at), covering, never a scan of other queues' entries."""
    from jobq.store.sqlite.conn import connect, migrate

    conn = connect(str(tmp_path / "plan.db"), cache_kib=1024)
    migrate(conn)
    for among in (IN_JSON.format(n=4), "(SELECT name FROM queues)"):
        sql = FINISHED_COUNTS.format(among=among)
        params = (0.0, 60.0, 5, '["a"]')[: 4 if "json_each" in among else 3]
        plan = " | ".join(str(r[3]) for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
        assert "USING COVERING INDEX jobs_queue_finished (queue=? AND finished_at>?)" in plan
        assert "SCAN jobs" not in plan
    conn.close()


async def test_a_tenants_throughput_reads_its_own_queues_on_postgres(tmp_path: Path) -> None:
    """On PostgreSQL the plan of a tenant's question searches jobs_queue_finished by queue."""
    from jobq.store.postgres import PostgresStore
    from jobq.store.postgres.reads import FINISHED_COUNTS as PG_COUNTS
    from tests import pgdb

    url = await pgdb.create_database()
    store = PostgresStore(url)
    await store.open()
    try:
        sql = PG_COUNTS.format(among="(SELECT DISTINCT unnest($4::text[]))")

        async def explain(c: Any) -> str:
            await c.execute("SET LOCAL enable_seqscan = off")
            rows = await c.fetch(f"EXPLAIN {sql}", 0.0, 60.0, 5, ["a"])
            return "\n".join(r[0] for r in rows)

        plan = await store.db.run(explain)
        assert "jobs_queue_finished" in plan and "Index Cond: ((queue = " in plan, plan
    finally:
        await store.close()
        await pgdb.drop_database(url)


async def test_workers_say_their_slots_and_the_jobs_they_hold_of_the_queues_asked(
    store: Store, engine: Engine
) -> None:
    await engine.enqueue([JobSpec(queue=q, type="t") for q in ("a", "b", "b")])
    busy = Worker("busy", "h", 1, slots=8)
    held = await engine.claim(ClaimSpec(["a", "b"], None, 3, None, busy))
    await engine.claim(ClaimSpec(["c"], None, 1, None, Worker("idle", "h", 2)))
    by_name = {w.name: w for w in await store.workers()}
    assert by_name["busy"].slots == 8 and by_name["idle"].slots is None
    assert by_name["busy"].jobs_held == 3 and by_name["idle"].jobs_held == 0
    assert sorted(j.id for j in by_name["busy"].held) == sorted(j.id for j in held)
    [only_a] = [w for w in await store.workers(queues=["a"]) if w.name == "busy"]
    assert only_a.jobs_held == 1 and [j.queue for j in only_a.held] == ["a"]
    assert {j.type for j in only_a.held} == {"t"}
    assert all(w.jobs_held == 0 for w in await store.workers(held=False))


# --- through the API, on both stores ---


async def test_the_workers_page_tells_live_from_gone_and_lists_only_the_callers_jobs(
    tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_app(tmp_path, db=store_url) as (app, client):
        auth = auth_store_of(app)
        admin, ann = await add_person(auth, "root", admin=True), await add_person(auth, "ann")
        for queue, owner in (("ann-q", "ann"), ("root-q", "root")):
            await auth.set_queue_owner(queue, owner, time.time())
        await _enqueue(client, admin, [("ann-q", 1), ("root-q", 2)])
        worker = {"name": "shared", "host": "h", "pid": 3, "slots": 4}
        body = {"queues": ["ann-q", "root-q"], "max": 3, "worker": worker}
        r = await client.post("/api/v1/claim", json=body, headers=bearer(admin))
        assert len(r.json()["jobs"]) == 3
        gone = {"queues": ["root-q"], "worker": {"name": "old", "pid": 4}}
        await client.post("/api/v1/claim", json=gone, headers=bearer(admin))
        monkeypatch.setattr(stats, "LIVE_WINDOW", 0.3)
        await asyncio.sleep(0.5)  # "old" holds nothing and was seen before the window
        seen = await _workers(client, admin)
        assert (seen["shared"]["live"], seen["shared"]["slots"]) == (True, 4)
        assert seen["shared"]["jobs_held"] == 3 and len(seen["shared"]["jobs"]) == 3
        assert (seen["old"]["live"], seen["old"]["slots"]) == (False, None)
        theirs = await _workers(client, ann)
        assert set(theirs) == {"shared"}  # "old" serves none of ann's queues
        assert theirs["shared"]["jobs_held"] == 1
        assert [j["queue"] for j in theirs["shared"]["jobs"]] == ["ann-q"]


async def test_a_listing_counts_its_matches_and_pages_back(tmp_path: Path, store_url: str) -> None:
    async with running_app(tmp_path, db=store_url) as (_, client):
        await _enqueue(client, None, [("a", 25), ("b", 3)])
        url = "/api/v1/jobs?queue=a&limit=10&sort=-created_at&total=true"
        first = (await client.get(url)).json()
        assert (first["total"], first["total_capped"], first["prev_cursor"]) == (25, False, None)
        second = (await client.get(f"{url}&cursor={first['next_cursor']}")).json()
        third = (await client.get(f"{url}&cursor={second['next_cursor']}")).json()
        assert [len(p["jobs"]) for p in (first, second, third)] == [10, 10, 5]
        assert third["next_cursor"] is None
        back = (await client.get(f"{url}&cursor={third['prev_cursor']}")).json()
        assert _ids(back) == _ids(second) and back["next_cursor"] == second["next_cursor"]
        start = (await client.get(f"{url}&cursor={back['prev_cursor']}")).json()
        assert _ids(start) == _ids(first) and start["prev_cursor"] is None
        every = _ids(first) + _ids(second) + _ids(third)
        assert len(set(every)) == 25
        oldest = (await client.get("/api/v1/jobs?queue=a&limit=10&sort=created_at")).json()
        assert _ids(oldest) == every[::-1][:10]
        forged = base64.urlsafe_b64encode(b'["-created_at",0,1,"sideways"]').decode()
        r = await client.get(f"{url}&cursor={forged}")
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid"
        none = (await client.get("/api/v1/jobs?queue=zz&total=true")).json()
        assert (none["total"], none["jobs"]) == (0, [])


async def test_the_total_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jobq.api.native import routes

    monkeypatch.setattr(routes, "TOTAL_CAP", 5)
    async with running_app(tmp_path) as (_, client):
        await _enqueue(client, None, [("a", 7)])
        page = (await client.get("/api/v1/jobs?total=true&limit=2")).json()
        assert (page["total"], page["total_capped"]) == (5, True)


async def test_a_scheduled_job_runs_now_and_only_a_scheduled_one(
    tmp_path: Path, store_url: str
) -> None:
    async with running_app(tmp_path, db=store_url) as (app, client):
        users = auth_store_of(app)
        ann, bob = await add_person(users, "ann"), await add_person(users, "bob")
        [job_id] = await _enqueue(client, ann, [("anns", 1)], later=True)
        r = await client.post(f"/api/v1/jobs/{job_id}/run", headers=bearer(bob))
        assert r.status_code == 404  # not there and not yours look the same
        before = time.time()
        r = await client.post(f"/api/v1/jobs/{job_id}/run", headers=bearer(ann))
        assert r.status_code == 200 and r.json()["state"] == "queued"
        assert r.json()["run_at"] >= _iso(before - 1)  # due from now: its wait counts from here
        again = await client.post(f"/api/v1/jobs/{job_id}/run", headers=bearer(ann))
        assert again.status_code == 409 and "only a scheduled job" in again.text
        body = {"queues": ["anns"], "worker": {"name": "w"}}
        r = await client.post("/api/v1/claim", json=body, headers=bearer(ann))
        assert [j["id"] for j in r.json()["jobs"]] == [job_id]
        assert (await client.post("/api/v1/jobs/nope/run", headers=bearer(ann))).status_code == 404


async def test_throughput_covers_a_week_in_hours_with_waits(tmp_path: Path, store_url: str) -> None:
    async with running_app(tmp_path, db=store_url) as (_, client):
        await _enqueue(client, None, [("a", 2)])
        body = {"queues": ["a"], "max": 2, "worker": {"name": "w"}}
        for job in (await client.post("/api/v1/claim", json=body)).json()["jobs"]:
            done = {"token": job["lease_token"]}
            await client.post(f"/api/v1/jobs/{job['id']}/complete", json=done)
        week = (await client.get("/api/v1/stats/throughput?minutes=10080&bucket=3600")).json()
        assert week["buckets"] == 168 and week["bucket_seconds"] == 3600
        a = week["queues"]["a"]
        assert sum(a["succeeded"]) == 2 and sum(a["waited"]) == 2
        assert 0 <= sum(a["wait_seconds"]) < 60 and a["succeeded"][-1] == 2
        assert sum(week["other"]["waited"]) == 0
        too_fine = await client.get("/api/v1/stats/throughput?minutes=10080&bucket=60")
        assert too_fine.status_code == 422 and "1440 buckets" in too_fine.text
        too_long = await client.get("/api/v1/stats/throughput?minutes=10081&bucket=3600")
        assert too_long.status_code == 422


async def test_pollers_asking_the_same_share_one_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_app(tmp_path) as (app, client):
        store = app.state.engine.store
        reads: list[Any] = []
        original = store.finished_counts

        async def counted(*args: Any) -> Any:
            reads.append(args)
            return await original(*args)

        monkeypatch.setattr(store, "finished_counts", counted)
        for _ in range(3):
            r = await client.get("/api/v1/stats/throughput?minutes=1440&bucket=900")
            assert r.status_code == 200
        await client.get("/api/v1/stats/throughput?minutes=60")
        assert len(reads) == 2  # the day once, the hour once


async def test_a_worker_sends_slots_the_server_checks(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (_, client):
        body = {"queues": ["a"], "worker": {"name": "w", "slots": 0}}
        r = await client.post("/api/v1/claim", json=body)
        assert r.status_code == 422 and "slots" in r.text


# --- helpers ---


async def _enqueue(
    client: httpx.AsyncClient,
    key: str | None,
    counts: list[tuple[str, int]],
    later: bool = False,
) -> list[str]:
    extra = {"run_at": "2100-01-01T00:00:00Z"} if later else {}
    jobs = [{"queue": q, "type": "t", **extra} for q, n in counts for _ in range(n)]
    r = await client.post("/api/v1/jobs", json={"jobs": jobs}, headers=bearer(key))
    assert r.status_code == 201, r.text
    return [j["id"] for j in r.json()["jobs"]]


async def _workers(client: httpx.AsyncClient, key: str) -> dict[str, Any]:
    r = await client.get("/api/v1/workers", headers=bearer(key))
    assert r.status_code == 200, r.text
    return {w["name"]: w for w in r.json()["workers"]}


def _ids(page: dict[str, Any]) -> list[str]:
    return [j["id"] for j in page["jobs"]]


def _iso(t: float) -> str:
    from jobq.render import iso

    return str(iso(t))
