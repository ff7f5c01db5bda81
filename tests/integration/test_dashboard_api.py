"""What the dashboard adds to the HTTP app, without a browser: the throughput numbers (both
stores), the session cookie as API credentials with its CSRF rule, and the page routes."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from jobq.engine import Engine, JobSpec
from jobq.model import ClaimSpec, FinishedCount, Worker
from jobq.store.base import Store
from tests.authkit import add_person, auth_store_of, bearer, running_app


async def finish(engine: Engine, queue: str, outcome: str) -> str:
    [(job, _)] = await engine.enqueue([JobSpec(queue=queue, type="t", max_attempts=1)])
    if outcome == "cancelled":
        await engine.cancel(job.id, "test", None)  # waiting: cancelled at once
        return job.id
    [claimed] = await engine.claim(ClaimSpec([queue], None, 1, None, Worker("w")))
    assert claimed.lease_token is not None
    if outcome == "succeeded":
        await engine.complete(job.id, claimed.lease_token, {"ok": True})
    else:
        error = {"code": "boom", "message": "it broke", "details": {}}
        await engine.fail(job.id, claimed.lease_token, error, False, 1)
    return job.id


async def test_finished_counts_by_queue_state_and_bucket(engine: Engine, store: Store) -> None:
    start = time.time() - 1
    for outcome in ("succeeded", "succeeded", "failed"):
        await finish(engine, "a", outcome)
    await finish(engine, "b", "succeeded")
    await engine.enqueue([JobSpec(queue="a", type="t")])  # waiting: not counted
    counts = await store.finished_counts(start - 120, 60)
    got = {(c.queue, c.bucket, c.state): c.count for c in counts}
    assert got == {("a", 2, "succeeded"): 2, ("a", 2, "failed"): 1, ("b", 2, "succeeded"): 1}
    assert await store.finished_counts(time.time() + 60, 60) == []


def _totals(counts: list[FinishedCount]) -> dict[tuple[str | None, str], int]:
    out: dict[tuple[str | None, str], int] = {}
    for c in counts:
        out[c.queue, c.state] = out.get((c.queue, c.state), 0) + c.count
    return out


async def test_finished_counts_name_the_busiest_queues_and_count_the_rest_together(
    engine: Engine, store: Store
) -> None:
    start = time.time() - 1
    for queue, n in (("q0", 3), ("q1", 2), ("q2", 1), ("q3", 1)):
        for _ in range(n):
            await finish(engine, queue, "succeeded")
    await finish(engine, "q3", "failed")
    busiest = _totals(await store.finished_counts(start - 120, 60, top=2))
    assert busiest == {
        ("q0", "succeeded"): 3, ("q3", "succeeded"): 1, ("q3", "failed"): 1,
        (None, "succeeded"): 3,
    } or busiest == {
        ("q0", "succeeded"): 3, ("q1", "succeeded"): 2, (None, "succeeded"): 2,
        (None, "failed"): 1,
    }  # fmt: skip
    among = _totals(await store.finished_counts(start - 120, 60, queues=["q1", "q2"], top=1))
    assert among == {("q1", "succeeded"): 2, (None, "succeeded"): 1}


async def test_throughput_answers_a_bounded_size_however_many_queues(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, client):
        engine = app.state.engine
        for i in range(30):
            await finish(engine, f"q{i:02}", "succeeded")
        await finish(engine, "q00", "succeeded")
        r = await client.get("/api/v1/stats/throughput?minutes=10&bucket=600&top=5")
        body = r.json()
        assert r.status_code == 200 and len(body["queues"]) == 5
        assert sum(body["queues"]["q00"]["succeeded"]) == 2
        assert (
            sum(body["other"]["succeeded"])
            == 31 - sum(sum(q["succeeded"]) for q in body["queues"].values())
            and sum(body["other"]["succeeded"]) == 25
        )
        assert (await client.get("/api/v1/stats/throughput?top=101")).status_code == 422


def _csrf(html: str) -> str:
    match = re.search(r"name='csrf' value='([^']+)'", html)
    assert match is not None
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, key: str) -> str:
    """Sign `client` in with `key`; the CSRF token its pages carry."""
    token = _csrf((await client.get("/ui/login")).text)
    assert (await client.post("/ui/login", data={"key": key, "csrf": token})).status_code == 303
    return token


async def test_throughput_counts_each_minute_of_the_queues_the_caller_sees(
    tmp_path: Path,
) -> None:
    async with running_app(tmp_path) as (app, client):
        admin = await add_person(auth_store_of(app), "root", admin=True)
        ann = await add_person(auth_store_of(app), "ann")
        await auth_store_of(app).set_queue_owner("mine", "ann", time.time())
        engine = app.state.engine
        for outcome in ("succeeded", "failed", "failed", "cancelled"):
            await finish(engine, "mine", outcome)
        await finish(engine, "theirs", "succeeded")
        r = await client.get("/api/v1/stats/throughput?minutes=60", headers=bearer(admin))
        assert r.status_code == 200
        body = r.json()
        assert body["buckets"] == 60 and body["bucket_seconds"] == 60
        mine = body["queues"]["mine"]
        assert sum(mine["succeeded"]) == 1 and sum(mine["failed"]) == 2
        assert sum(mine["cancelled"]) == 1
        assert mine["failed"][-1] == 2 or mine["failed"][-2] == 2  # this minute (or the last)
        assert set(body["queues"]) == {"mine", "theirs"}
        r = await client.get("/api/v1/stats/throughput", headers=bearer(ann))
        assert set(r.json()["queues"]) == {"mine"}


async def test_throughput_refuses_bad_input_in_the_native_error_shape(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (_, client):
        for query in ("minutes=0", "minutes=abc", "minutes=99999", "bucket=1"):
            r = await client.get(f"/api/v1/stats/throughput?{query}")
            assert r.status_code == 422, query
            assert "error" in r.json()
        r = await client.get("/api/v1/stats/throughput?minutes=5&bucket=30")
        assert r.json()["buckets"] == 10


async def test_the_session_cookie_reads_the_api_and_changes_need_the_csrf_token(
    tmp_path: Path,
) -> None:
    async with running_app(tmp_path) as (app, client):
        ann = await add_person(auth_store_of(app), "ann")
        await client.post("/api/v1/jobs", json={"queue": "q"}, headers=bearer(ann))
        assert (await client.get("/api/v1/queues")).status_code == 401
        token = await sign_in(client, ann)
        r = await client.get("/api/v1/queues")
        assert r.status_code == 200 and r.json()["queues"][0]["name"] == "q"
        r = await client.post("/api/v1/queues/q/pause")
        assert r.status_code == 403 and "CSRF" in r.json()["error"]["message"]
        r = await client.post("/api/v1/queues/q/pause", headers={"X-CSRF-Token": "forged"})
        assert r.status_code == 403
        headers = {"X-CSRF-Token": token, "Origin": "https://evil.example"}
        assert (await client.post("/api/v1/queues/q/pause", headers=headers)).status_code == 403
        r = await client.post("/api/v1/queues/q/pause", headers={"X-CSRF-Token": token})
        assert r.status_code == 200 and r.json()["paused"] is True
        # the session is the key's holder, with her rights, not more
        assert (await client.get("/api/v1/users")).status_code == 403


async def test_a_forged_session_cookie_gets_401_and_a_header_wins_over_the_cookie(
    tmp_path: Path,
) -> None:
    async with running_app(tmp_path) as (app, client):
        ann = await add_person(auth_store_of(app), "ann")
        root = await add_person(auth_store_of(app), "root", admin=True)
        await sign_in(client, ann)
        r = await client.get("/api/v1/users", headers=bearer(root))
        assert r.status_code == 200  # the Authorization header decides, not the cookie
        client.cookies.set("jobq_session", "nobody.9999999999.00")
        r = await client.get("/api/v1/queues")
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    "path", ["/ui/", "/ui/queues", "/ui/jobs", "/ui/jobs/abc", "/ui/workers", "/ui/admin"]
)
async def test_pages_send_whoever_is_not_signed_in_to_the_sign_in_page(
    tmp_path: Path, path: str
) -> None:
    async with running_app(tmp_path) as (app, client):
        key = await add_person(auth_store_of(app), "ann")
        r = await client.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/ui/login"
        token = await sign_in(client, key)
        r = await client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert f'<meta name="jobq-csrf" content="{token}">' in r.text
        assert 'data-admin="false"' in r.text


async def test_the_page_shell_escapes_the_job_id_and_find_goes_to_the_job(
    tmp_path: Path,
) -> None:
    async with running_app(tmp_path) as (_, client):
        r = await client.get("/ui/jobs/%3Cscript%3E")
        assert r.status_code == 200 and "<script>" not in r.text
        assert "&lt;script&gt;" in r.text
        r = await client.get("/ui/find?id=+abc+")
        assert r.status_code == 303 and r.headers["location"] == "/ui/jobs/abc"
        r = await client.get("/ui/find?id=//evil.example/x")
        assert r.headers["location"] == "/ui/jobs/%2F%2Fevil.example%2Fx"
        static = await client.get("/ui/static/js/job.js")
        assert static.status_code == 200 and "EventSource" in static.text
        assert static.headers["content-type"].startswith("text/javascript")  # a module loads


async def test_queue_stats_for_pollers_show_counts_and_a_fresh_paused_flag(
    tmp_path: Path,
) -> None:
    async with running_app(tmp_path) as (app, client):
        ann = await add_person(auth_store_of(app), "ann")
        bob = await add_person(auth_store_of(app), "bob")
        for queue in ("a", "a", "b"):
            await client.post("/api/v1/jobs", json={"queue": queue}, headers=bearer(ann))
        await client.post("/api/v1/jobs", json={"queue": "c"}, headers=bearer(bob))
        r = await client.get("/api/v1/stats/queues", headers=bearer(ann))
        assert r.status_code == 200 and r.json()["as_of"] is not None
        queues = {q["name"]: q for q in r.json()["queues"]}
        assert set(queues) == {"a", "b"}  # not bob's queue
        assert queues["a"]["counts"]["queued"] == 2 and queues["a"]["paused"] is False
        assert queues["a"]["oldest_queued_at"] is not None
        await client.post("/api/v1/queues/a/pause", headers=bearer(ann))
        r = await client.get("/api/v1/stats/queues", headers=bearer(ann))
        assert {q["name"]: q["paused"] for q in r.json()["queues"]} == {"a": True, "b": False}


async def test_queue_stats_for_pollers_show_the_limits_at_once(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (_, client):
        for queue in ("a", "b"):
            await client.post("/api/v1/jobs", json={"queue": queue})
        await client.get("/api/v1/stats/queues")  # the counts are kept a while: not the limits
        body = {"concurrency": 3, "rate": 100, "rate_period": 60}
        assert (await client.put("/api/v1/queues/a/limits", json=body)).status_code == 200
        r = await client.get("/api/v1/stats/queues")
        limits = {q["name"]: q["limits"] for q in r.json()["queues"]}
        assert limits == {
            "a": {
                "concurrency": 3,
                "rate": 100,
                "rate_period": 60.0,
                "per_key": None,
                "aging": None,
                "weights": {},
            },
            "b": None,
        }
        assert (await client.delete("/api/v1/queues/a/limits")).status_code == 200
        r = await client.get("/api/v1/stats/queues")
        assert {q["name"]: q["limits"] for q in r.json()["queues"]} == {"a": None, "b": None}
