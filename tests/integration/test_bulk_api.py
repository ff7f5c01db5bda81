"""Bulk work over HTTP, on every store: POST /jobs/bulk/{action} by ids and by filter,
operations, one retry per job on every interface that retries, and queues deleted and purged;
each tenant acting only on its own queues."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from fastapi import FastAPI

from jobq.auth import service
from jobq.engine import Engine, JobSpec
from jobq.engine.operations import Runner
from jobq.model import ClaimSpec, Worker
from tests.authkit import add_person, auth_store_of, bearer, running_app

B = "/api/v1"


def engine_of(app: FastAPI) -> Engine:
    engine: Engine = app.state.engine
    return engine


async def failed(app: FastAPI, queue: str, n: int, **kw: Any) -> list[str]:
    """`n` jobs of `queue`, failed for good; their ids."""
    engine = engine_of(app)
    await engine.enqueue([JobSpec(queue=queue, max_attempts=1, **kw) for _ in range(n)])
    claimed = await engine.claim(ClaimSpec([queue], None, n, None, Worker("w")))
    for job in claimed:
        await engine.fail(job.id, job.lease_token or "", {"code": "boom"})
    return [j.id for j in claimed]


async def finished(client: httpx.AsyncClient, location: str, key: str | None = None) -> Any:
    """The operation at `location` once it has ended."""
    for _ in range(400):
        op = (await client.get(location, headers=bearer(key))).json()
        if op["state"] != "running":
            return op
        await asyncio.sleep(0.025)
    raise AssertionError(f"the operation did not end: {op}")


async def test_a_second_retry_answers_409_naming_the_first(tmp_path, store_url):
    async with running_app(tmp_path, db=store_url) as (app, c):
        [job] = await failed(app, "q", 1)
        first = await c.post(f"{B}/jobs/{job}/retry")
        assert first.status_code == 201
        again = await c.post(f"{B}/jobs/{job}/retry")
        assert again.status_code == 409
        error = again.json()["error"]
        assert error["details"]["retried_by"] == first.json()["id"]
        assert first.json()["id"] in error["message"]
        shown = (await c.get(f"{B}/jobs/{job}")).json()
        assert shown["retried_by"] == first.json()["id"]
        listed = (await c.get(f"{B}/jobs", params={"queue": "q", "state": "queued"})).json()
        assert len(listed["jobs"]) == 1


async def test_the_titan_dialects_refuse_a_second_retry_vidispine_duplicates(tmp_path, store_url):
    async with running_app(tmp_path, db=store_url) as (app, c):
        [t2] = await failed(app, "default", 1)
        assert (await c.post(f"/titan-0.2/v1/job/{t2}/retry")).status_code == 200
        second = await c.post(f"/titan-0.2/v1/job/{t2}/retry")
        assert second.status_code == 409 and "already retried" in second.json()["error"]["message"]
        [t3] = await failed(app, "g", 1)
        assert (await c.post(f"/titan-0.3/v1/groups/g/jobs/{t3}/retry")).status_code == 200
        second = await c.post(f"/titan-0.3/v1/groups/g/jobs/{t3}/retry")
        assert second.status_code == 409 and second.json() == {"id": t3, "status": "error"}
        [vx] = await failed(app, "v", 1)
        seq = (await c.get(f"{B}/jobs/{vx}")).json()["seq"]
        json_ = {"Accept": "application/json"}
        runs = [await c.post(f"/API/job/VX-{seq}/re-run", headers=json_) for _ in range(2)]
        assert [r.status_code for r in runs] == [200, 200]  # Vidispine documents a duplicate
        ids = [r.json()["jobId"] for r in runs]
        assert len(set(ids)) == 2
        listed = (await c.get(f"{B}/jobs", params={"queue": "v", "state": "queued"})).json()
        made = {j["seq"]: j for j in listed["jobs"]}
        assert sorted(made[int(i.split("-")[1])]["retry_of"] or "-" for i in ids) == ["-", vx]


async def test_bulk_by_ids_answers_each_job_in_order(tmp_path, store_url):
    async with running_app(tmp_path, db=store_url) as (app, c):
        a, b = await failed(app, "q", 2)
        r = await c.post(f"{B}/jobs/bulk/retry", json={"ids": [a, "nope", a]})
        assert r.status_code == 200
        [one, missing, twice] = r.json()["results"]
        assert one["ok"] and one["job"]["retry_of"] == a
        assert missing == {
            "id": "nope", "ok": False,
            "error": {"code": "not_found", "message": "job not found", "details": {"id": "nope"}},
        }  # fmt: skip
        assert not twice["ok"] and twice["error"]["details"]["retried_by"] == one["job"]["id"]
        new = one["job"]["id"]
        r = await c.post(f"{B}/jobs/bulk/cancel", json={"ids": [new, b], "reason": "enough"})
        [cancelled, done] = r.json()["results"]
        assert (
            cancelled["job"]["state"] == "cancelled"
            and cancelled["job"]["error"]["message"] == "enough"
        )
        assert done["error"]["code"] == "conflict"
        r = await c.post(f"{B}/jobs/bulk/delete", json={"ids": [new, b, "nope"]})
        assert [x["ok"] for x in r.json()["results"]] == [True, True, False]
        assert (await c.get(f"{B}/jobs/{b}")).status_code == 404


async def test_bulk_retry_by_filter_is_an_operation_with_progress(tmp_path, store_url):
    async with running_app(tmp_path, db=store_url) as (app, c):
        ids = await failed(app, "q", 30, metadata={"team": "a"})
        await failed(app, "q", 4, metadata={"team": "b"})
        await failed(app, "other", 3)
        body: dict[str, Any] = {
            "filter": {"queues": ["q"], "states": ["failed"], "metadata": {"team": "a"}}
        }
        dry = await c.post(f"{B}/jobs/bulk/retry", json={**body, "dry_run": True})
        assert dry.json() == {"action": "retry", "matched": 30, "capped": False}
        r = await c.post(f"{B}/jobs/bulk/retry", json=body)
        assert r.status_code == 202 and r.json()["action"] == "retry"
        location = r.headers["location"]
        assert location == f"{B}/operations/{r.json()['id']}"
        op = await finished(c, location)
        assert (op["state"], op["matched"], op["done"], op["failed"]) == ("done", 30, 30, 0)
        assert op["filter"]["metadata"] == {"team": "a"} and op["finished_at"]
        left = await c.get(
            f"{B}/jobs", params={"queue": "q", "state": "failed", "retried": "false"}
        )
        assert len(left.json()["jobs"]) == 4  # team b's
        gone = await c.get(f"{B}/jobs", params={"queue": "q", "retried": "true", "limit": 1000})
        assert sorted(j["id"] for j in gone.json()["jobs"]) == sorted(ids)
        [queue] = [q for q in (await c.get(f"{B}/queues")).json()["queues"] if q["name"] == "q"]
        assert queue["counts"]["failed"] == 34 and queue["retried"]["failed"] == 30
        dry = await c.post(f"{B}/jobs/bulk/retry", json={**body, "dry_run": True})
        assert dry.json()["matched"] == 0  # the dead set shrank: a second run does nothing
        listed = (await c.get(f"{B}/operations")).json()["operations"]
        assert [o["id"] for o in listed] == [op["id"]]


async def test_bad_bulk_requests_are_refused_in_the_native_shape(tmp_path, store_url):
    async with running_app(tmp_path, db=store_url) as (_, c):
        cases = [
            ("retry", {"ids": ["a"], "filter": {}}, 422),
            ("retry", {}, 422),
            ("retry", {"filter": {"states": ["queued"]}}, 422),
            ("retry", {"filter": {"states": ["bogus"]}}, 422),
            ("delete", {"filter": {"metadata": {"k": "nul\u0000"}}}, 422),
            ("explode", {"ids": ["a"]}, 422),
            ("retry", {"ids": ["x"] * 1001}, 422),
            ("retry", {"filter": {"queues": ["bad name!"]}}, 422),
        ]
        for action, body, status in cases:
            r = await c.post(f"{B}/jobs/bulk/{action}", json=body)
            assert r.status_code == status, (action, body, r.text)
            assert set(r.json()["error"]) == {"code", "message", "details"}
        r = await c.get(f"{B}/operations/nope")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = await c.get(f"{B}/operations/{'x' * 5000}")
        assert r.status_code == 404


async def tenants(app: FastAPI) -> dict[str, str]:
    store = auth_store_of(app)
    keys = {name: await add_person(store, name) for name in ("alice", "bob", "vera")}
    keys["root"] = await add_person(store, "root", admin=True)
    now = time.time()
    await store.set_queue_owner("qa", "alice", now)
    await store.set_queue_owner("qb", "bob", now)
    await service.grant(store, "qa", "vera", "viewer", now)
    return keys


async def test_a_users_filter_never_touches_another_users_queue(tmp_path, store_url):
    async with running_app(tmp_path, db=store_url) as (app, c):
        keys = await tenants(app)
        mine = await failed(app, "qa", 5)
        theirs = await failed(app, "qb", 5)
        alice, vera = bearer(keys["alice"]), bearer(keys["vera"])
        everything: dict[str, Any] = {"filter": {"states": ["failed"]}}
        dry = await c.post(
            f"{B}/jobs/bulk/retry", json={**everything, "dry_run": True}, headers=alice
        )
        assert dry.json()["matched"] == 5
        r = await c.post(f"{B}/jobs/bulk/retry", json=everything, headers=alice)
        op = await finished(c, r.headers["location"], keys["alice"])
        assert (op["matched"], op["done"]) == (5, 5)
        engine = engine_of(app)
        assert all([(await engine.get(i)).retried_by for i in mine])
        assert [(await engine.get(i)).retried_by for i in theirs] == [None] * 5
        named = {"filter": {"queues": ["qa", "qb"]}}
        r = await c.post(f"{B}/jobs/bulk/delete", json=named, headers=alice)
        assert r.status_code == 403 and r.json()["error"]["details"]["queue"] == "qb"
        r = await c.post(f"{B}/jobs/bulk/delete", json={"ids": theirs[:1]}, headers=alice)
        assert r.json()["results"][0]["error"]["code"] == "not_found"
        # a viewer may not manage: naming the queue is refused, the rest matches nothing
        r = await c.post(f"{B}/jobs/bulk/delete", json={"filter": {"queues": ["qa"]}}, headers=vera)
        assert r.status_code == 403
        r = await c.post(
            f"{B}/jobs/bulk/delete", json={"filter": {}, "dry_run": True}, headers=vera
        )
        assert r.json()["matched"] == 0
        # an operation is its owner's (and administrators')
        assert (
            await c.get(f"{B}/operations/{op['id']}", headers=bearer(keys["bob"]))
        ).status_code == 404
        r = await c.post(f"{B}/operations/{op['id']}/cancel", headers=bearer(keys["bob"]))
        assert r.status_code == 404
        assert (await c.get(f"{B}/operations", headers=bearer(keys["bob"]))).json() == {
            "operations": []
        }
        assert (
            await c.get(f"{B}/operations/{op['id']}", headers=bearer(keys["root"]))
        ).status_code == 200
        r = await c.post(f"{B}/operations/{op['id']}/cancel", headers=alice)
        assert r.status_code == 409  # it has ended


async def test_queues_are_deleted_when_empty_or_with_their_jobs_and_purged(tmp_path, store_url):
    async with running_app(tmp_path, db=store_url) as (app, c):
        keys = await tenants(app)
        alice = bearer(keys["alice"])
        store = auth_store_of(app)
        r = await c.post(f"{B}/jobs", json={"queue": "typo"}, headers=alice)
        assert r.status_code == 201 and await store.queue_owner("typo") == "alice"
        assert (await c.delete(f"{B}/jobs/{r.json()['id']}", headers=alice)).status_code == 409
        await c.post(f"{B}/jobs/{r.json()['id']}/cancel", headers=alice)
        r = await c.delete(f"{B}/queues/typo", headers=alice)
        assert r.status_code == 409 and r.json()["error"]["details"] == {"queue": "typo"}
        r = await c.delete(f"{B}/queues/typo", params={"with_jobs": "true"}, headers=alice)
        assert r.status_code == 202 and r.json()["action"] == "drop_queue"
        op = await finished(c, r.headers["location"], keys["alice"])
        assert (op["state"], op["done"]) == ("done", 1)
        assert await store.queue_owner("typo") is None
        names = [
            q["name"]
            for q in (await c.get(f"{B}/queues", headers=bearer(keys["root"]))).json()["queues"]
        ]
        assert "typo" not in names
        # purge: the waiting jobs go, the finished stay, the queue stays
        await failed(app, "qa", 2)
        await engine_of(app).enqueue([JobSpec(queue="qa", delay=d) for d in (0, 0, 60)])
        r = await c.post(f"{B}/queues/qa/purge", headers=alice)
        op = await finished(c, r.headers["location"], keys["alice"])
        assert (op["action"], op["done"]) == ("purge", 3)
        left = (await c.get(f"{B}/jobs", params={"queue": "qa"}, headers=alice)).json()["jobs"]
        assert sorted(j["state"] for j in left) == ["failed", "failed"]
        # owner or administrator only
        for who in ("vera", "bob"):
            for method, path in (("POST", "/queues/qa/purge"), ("DELETE", "/queues/qa")):
                r = await c.request(method, B + path, headers=bearer(keys[who]))
                assert r.status_code == 403, (who, path)
        r = await c.delete(f"{B}/queues/empty-one", headers=bearer(keys["root"]))
        assert r.status_code == 204  # nothing there: nothing to keep


async def test_an_operation_stops_when_its_owner_loses_the_right(tmp_path, store_url):
    async with running_app(tmp_path, db=store_url) as (app, c):
        keys = await tenants(app)
        store = auth_store_of(app)
        await service.grant(store, "qa", "bob", "collaborator", time.time())
        engine = engine_of(app)
        slow = Runner(engine, engine.operation_store, batch=1)
        slow.may_act = engine.runner.may_act
        engine.runner = slow
        await failed(app, "qa", 200)
        r = await c.post(f"{B}/jobs/bulk/retry", json={"filter": {}}, headers=bearer(keys["bob"]))
        assert r.status_code == 202
        await store.revoke_grant("qa", "bob")
        app.state.auth.forget()
        op = await finished(c, r.headers["location"], keys["bob"])
        assert op["state"] == "failed" and op["matched"] < 200
        assert op["message"] == "bob may no longer retry jobs of queue qa: the operation stopped"
