"""Queue flow limits over the native API (`/api/v1/queues/{name}/limits`, and the limits in
`GET /queues`), on both stores: what is set is what claims obey, bad values are refused with
422 in the native error shape, and who may pause a queue is who may limit it.

Every cell of the role table runs in tests/integration/test_auth_matrix.py (the cases of the
limits routes); here, the answers themselves."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobq.auth import service
from jobq.model import QueueLimits
from tests.authkit import add_person, auth_store_of, bearer, running_app

LIMITS = "/api/v1/queues/{}/limits"
WORKER = {"name": "w"}
NONE = {
    "concurrency": None, "rate": None, "rate_period": None, "per_key": None, "aging": None,
    "weights": {},
}  # fmt: skip


async def claimed(client: httpx.AsyncClient, queue: str, n: int = 10) -> int:
    answer = await client.post(
        "/api/v1/claim", json={"queues": [queue], "max": n, "worker": WORKER}
    )
    assert answer.status_code in (200, 204), answer.text
    return 0 if answer.status_code == 204 else len(answer.json()["jobs"])


async def fill(client: httpx.AsyncClient, queue: str, n: int) -> None:
    jobs = [{"queue": queue} for _ in range(n)]
    assert (await client.post("/api/v1/jobs", json={"jobs": jobs})).status_code == 201


async def listed(client: httpx.AsyncClient) -> dict[str, Any]:
    answer = await client.get("/api/v1/queues")
    assert answer.status_code == 200
    return {q["name"]: q["limits"] for q in answer.json()["queues"]}


async def test_limits_are_set_read_obeyed_and_cleared(tmp_path: Path, store_url: str) -> None:
    async with running_app(tmp_path, db=store_url) as (_, client):
        fresh = await client.get(LIMITS.format("q"))
        assert fresh.status_code == 200
        assert fresh.json() == {"queue": "q", **NONE, "paused": False, "running": 0}
        await fill(client, "q", 6)
        await fill(client, "free", 1)
        body = {
            "concurrency": 2, "rate": 100, "rate_period": 60, "per_key": None, "aging": None,
            "weights": {},
        }  # fmt: skip
        put = await client.put(LIMITS.format("q"), json=body)
        assert put.status_code == 200, put.text
        assert put.json() == {"queue": "q", **body, "paused": False, "running": 0}
        assert await claimed(client, "q") == 2
        got = (await client.get(LIMITS.format("q"))).json()
        assert (got["concurrency"], got["rate"], got["rate_period"], got["running"]) == (
            2, 100, 60.0, 2)  # fmt: skip
        assert await listed(client) == {"q": body, "free": None}
        # PUT replaces the limits as a whole: the rate is gone
        replaced = (await client.put(LIMITS.format("q"), json={"concurrency": 3})).json()
        assert (replaced["concurrency"], replaced["rate"], replaced["rate_period"]) == (
            3,
            None,
            None,
        )
        assert await claimed(client, "q") == 1
        await client.post("/api/v1/queues/q/pause")
        cleared = await client.delete(LIMITS.format("q"))
        assert cleared.json() == {"queue": "q", **NONE, "paused": True, "running": 3}
        await client.post("/api/v1/queues/q/resume")
        assert await listed(client) == {"q": None, "free": None}
        assert await claimed(client, "q") == 3  # no limit left


BAD = [
    ({"concurrency": 0}, "concurrency"),
    ({"concurrency": -1}, "concurrency"),
    ({"concurrency": 2.5}, "concurrency"),
    ({"concurrency": True}, "concurrency"),
    ({"concurrency": "3"}, "concurrency"),
    ({"concurrency": 10**7}, "concurrency"),
    ({"rate": "100/1m"}, "rate"),
    ({"rate": 0, "rate_period": 60}, "rate"),
    ({"rate": 5, "rate_period": 0}, "rate_period"),
    ({"rate": 5, "rate_period": -1}, "rate_period"),
    ({"rate": 5, "rate_period": False}, "rate_period"),
    ({"rate": 5, "rate_period": "60"}, "rate_period"),
    ({"rate": 5, "rate_period": 10**9}, "rate_period"),
    ({"limit": 3}, "limit"),
]


@pytest.mark.parametrize(("body", "field"), BAD)
async def test_bad_values_are_refused_in_the_native_shape(
    tmp_path: Path, body: dict[str, Any], field: str
) -> None:
    async with running_app(tmp_path) as (_, client):
        await client.put(LIMITS.format("q"), json={"concurrency": 4})
        answer = await client.put(LIMITS.format("q"), json=body)
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["code"] == "invalid" and error["message"]
        assert [f["field"] for f in error["details"]["fields"]] == [field]
        assert (await client.get(LIMITS.format("q"))).json()["concurrency"] == 4  # unchanged


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"rate": 5}, "a rate limit needs both a rate and a period"),
        ({"rate_period": 60}, "a rate limit needs both a rate and a period"),
    ],
)
async def test_a_rate_without_its_period_is_refused_by_the_engine(
    tmp_path: Path, body: dict[str, Any], says: str
) -> None:
    async with running_app(tmp_path) as (_, client):
        answer = await client.put(LIMITS.format("q"), json=body)
        assert answer.status_code == 422
        assert answer.json()["error"]["message"] == says


async def test_a_queue_name_no_store_can_hold_is_refused(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (_, client):
        for method in ("GET", "PUT", "DELETE"):
            body = {} if method == "PUT" else None
            answer = await client.request(method, LIMITS.format("a%00b"), json=body)
            assert answer.status_code == 422, (method, answer.text)
            assert "NUL" in answer.json()["error"]["message"]


async def test_who_may_pause_may_limit_and_any_role_may_read(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, client):
        store = auth_store_of(app)
        keys = {"admin": await add_person(store, "admin", admin=True)}
        for name in ("owner", "collaborator", "viewer", "worker", "stranger"):
            keys[name] = await add_person(store, name)
        now = time.time()
        await store.set_queue_owner("q", "owner", now)
        for role in ("collaborator", "viewer", "worker"):
            await service.grant(store, "q", role, role, now)
        body = {"concurrency": 5}
        for who in ("admin", "owner"):
            put = await client.put(LIMITS.format("q"), json=body, headers=bearer(keys[who]))
            assert put.status_code == 200, (who, put.text)
        for who in ("collaborator", "viewer", "worker", "stranger"):
            head = bearer(keys[who])
            pause = await client.post("/api/v1/queues/q/pause", headers=head)
            for method in ("PUT", "DELETE"):
                sent = body if method == "PUT" else None
                limit = await client.request(method, LIMITS.format("q"), json=sent, headers=head)
                assert (limit.status_code, limit.json()) == (pause.status_code, pause.json()), who
            read = await client.get(LIMITS.format("q"), headers=head)
            if who == "stranger":
                assert read.status_code == 403 and read.json()["error"]["code"] == "forbidden"
            else:
                assert read.status_code == 200 and read.json()["concurrency"] == 5, who
        seen = await client.get("/api/v1/queues", headers=bearer(keys["stranger"]))
        assert seen.json() == {"queues": []}


async def test_the_limits_routes_are_documented(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, _):
        document = app.openapi()
    route = document["paths"]["/api/v1/queues/{name}/limits"]
    assert set(route) == {"get", "put", "delete"}
    ok = route["put"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["$ref"].endswith("/QueueLimitsOut")
    body = document["components"]["schemas"]["QueueLimitsIn"]["properties"]
    assert set(body) == {"concurrency", "rate", "rate_period", "per_key", "aging", "weights"}
    out = document["components"]["schemas"]["QueueLimitsOut"]["properties"]
    assert set(out) == {
        "queue",
        "concurrency",
        "rate",
        "rate_period",
        "per_key",
        "aging",
        "weights",
        "paused",
        "running",
    }
    queues = document["paths"]["/api/v1/queues"]["get"]["responses"]["200"]
    assert queues["content"]["application/json"]["schema"]["$ref"].endswith("/QueuesOut")
    assert "limits" in document["components"]["schemas"]["QueueOut"]["properties"]


async def test_a_per_key_limit_is_set_shown_obeyed_and_replaced_as_a_whole(
    tmp_path: Path, store_url: str
) -> None:
    async with running_app(tmp_path, db=store_url) as (app, client):
        engine = app.state.engine
        r = await client.put(LIMITS.format("keyed"), json={"per_key": 1})
        assert r.status_code == 200 and r.json()["per_key"] == 1, r.text
        one = {"queue": "keyed", "concurrency_key": "k"}
        await client.post("/api/v1/jobs", json={"jobs": [one, one]})
        claim = {"queues": ["keyed"], "max": 5, "worker": {"name": "w"}}
        got = await client.post("/api/v1/claim", json=claim)
        assert len(got.json()["jobs"]) == 1  # one job of key k at a time
        assert (await listed(client))["keyed"]["per_key"] == 1
        await client.put(LIMITS.format("keyed"), json={"concurrency": 5})  # PUT: as a whole
        settings = await engine.queue_settings(["keyed"])
        assert settings["keyed"].limits == QueueLimits(concurrency=5)
        assert len((await client.post("/api/v1/claim", json=claim)).json()["jobs"]) == 1
        weighted = {"per_key": 2, "weights": {"gold": 3}}
        r = await client.put(LIMITS.format("keyed"), json=weighted)
        assert r.status_code == 200 and r.json()["weights"] == {"gold": 3}, r.text
        bad = await client.put(LIMITS.format("keyed"), json={"weights": {"gold": 3}})
        assert bad.status_code == 422 and "per_key" in bad.text
        bad = await client.put(LIMITS.format("keyed"), json={"per_key": 1, "weights": {"g": 0}})
        assert bad.status_code == 422
        cleared = await client.delete(LIMITS.format("keyed"))
        assert cleared.json() == {"queue": "keyed", **NONE, "paused": False, "running": 2}
