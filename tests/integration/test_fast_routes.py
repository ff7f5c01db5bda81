"""The hot routes answered beside FastAPI (jobq.api.http.fast) answer exactly as FastAPI does.

The same requests go to two apps, one with FastRoutes and one without (FastAPI alone); the
answers must match in status, error bodies, headers that matter and the shape of every job
(ids and times aside). A spy on FastAPI's router shows which requests the fast routes left
to it: never one that succeeds, as the fast routes exist to serve the hot path; which refusals
they leave to FastAPI is theirs to choose.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from jobq.api.app import create_app
from jobq.api.http.fast import FastRoutes
from jobq.config import Config
from tests.authkit import add_person, auth_store_of, bearer

VOLATILE = {
    "id",
    "created_at",
    "updated_at",
    "run_at",
    "started_at",
    "finished_at",
    "lease_token",
    "lease_expires_at",
    "last_heartbeat_at",
    "deadline_at",
    "purge_at",
}


def steady(value: Any) -> Any:
    """`value` with what differs between two runs (ids, times) blanked."""
    if isinstance(value, dict):
        return {k: "*" if k in VOLATILE else steady(v) for k, v in value.items()}
    if isinstance(value, list):
        return [steady(v) for v in value]
    return value


def answer(r: httpx.Response) -> tuple[Any, ...]:
    try:
        body = steady(r.json())
    except ValueError:
        body = r.text
    headers = {h: r.headers.get(h) for h in ("content-type", "www-authenticate", "retry-after")}
    return r.status_code, headers, body


@asynccontextmanager
async def app_and_client(tmp_path: Path, fast: bool) -> AsyncIterator[tuple[FastAPI, Any]]:
    app = create_app(Config(db=f"sqlite:///{tmp_path / ('fast' if fast else 'plain')}.db"))
    if not fast:
        app.user_middleware = [m for m in app.user_middleware if m.cls is not FastRoutes]
    routed: list[str] = []  # "METHOD path status" of each request FastAPI answered
    inner = app.router.middleware_stack

    async def spy(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await inner(scope, receive, send)

        async def sent(message: Any) -> None:
            if message["type"] == "http.response.start":
                routed.append(f"{scope['method']} {scope['path']} {message['status']}")
            await send(message)

        await inner(scope, receive, sent)

    app.router.middleware_stack = spy
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield app, (client, routed)


WORKER = {"name": "w", "host": "h", "pid": 1}
JSON = {"content-type": "application/json"}


async def open_mode(client: httpx.AsyncClient) -> list[tuple[Any, ...]]:
    """Every kind of answer of the three hot routes, without auth."""
    post = client.post
    out = [answer(await post("/api/v1/jobs", json={"queue": "q", "type": "t", "payload": [1]}))]
    out.append(answer(await post("/api/v1/jobs", json={"jobs": [
        {"queue": "q", "type": "t", "priority": 5}, {"queue": "q", "type": "u"}]})))  # fmt: skip
    out.append(answer(await post("/api/v1/jobs", json={"queue": "q", "type": "t",
                                                       "unique_key": "k"})))  # fmt: skip
    out.append(answer(await post("/api/v1/jobs", json={"queue": "q", "type": "t",
                                                       "unique_key": "k"})))  # fmt: skip
    for bad in (
        b'{"queue": "q"}',
        b"{",
        b"",
        b'{"queue": "q", "type": "t", "x": 1}',
        b'{"queue": "q", "type": "t", "payload": 100000000000000000000000000000}',
        b'{"queue": "q", "type": "t", "payload": 1e400}',
        b"[]",
        b'{"jobs": []}',
    ):
        out.append(answer(await post("/api/v1/jobs", content=bad, headers=JSON)))
    out.append(answer(await post("/api/v1/jobs", content=b'{"queue": "q", "type": "t"}',
                                 headers={"content-type": "text/plain"})))  # fmt: skip
    claim = {"queues": ["q"], "worker": WORKER, "max": 2}
    r = await post("/api/v1/claim", json=claim)
    out.append(answer(r))
    first, second = r.json()["jobs"]
    acks = [{"id": first["id"], "token": first["lease_token"], "result": {"ok": True}},
            {"id": second["id"], "token": "not-the-token"},
            {"id": "no-such-job", "token": "t"}]  # fmt: skip
    out.append(answer(await post("/api/v1/claim", json={**claim, "acks": acks})))
    out.append(answer(await post("/api/v1/claim", json={"queues": ["empty"], "worker": WORKER})))
    out.append(answer(await post("/api/v1/claim", json={"queues": ["q"], "worker": WORKER,
                                                        "max": 0})))  # fmt: skip
    out.append(answer(await post("/api/v1/claim", json={"queues": [], "worker": WORKER})))
    r = await post("/api/v1/claim", json={"queues": ["q"], "worker": WORKER})
    job = r.json()["jobs"][0]
    out.append(answer(r))
    out.append(answer(await post("/api/v1/ack", json={"acks": [
        {"id": job["id"], "token": job["lease_token"],
         "error": {"code": "boom", "message": "failed"}, "retryable": False},
        {"id": job["id"], "token": job["lease_token"]}]})))  # fmt: skip
    out.append(answer(await post("/api/v1/ack", json={"acks": []})))
    out.append(answer(await post("/api/v1/ack", json={"acks": [{"id": "x"}]})))
    return out


async def test_the_fast_routes_answer_as_fastapi_does(tmp_path: Path) -> None:
    async with app_and_client(tmp_path, fast=False) as (_, (plain, _)):
        expected = await open_mode(plain)
    async with app_and_client(tmp_path, fast=True) as (_, (fast, routed)):
        got = await open_mode(fast)
    assert got == expected
    assert [status for status, _, _ in got] == [
        201, 201, 201, 200, 201, 400, 422, 422, 422, 422, 422, 422, 422,  # enqueue
        200, 200, 204, 422, 422, 200, 200, 422, 422,  # claim, ack+claim, ack
    ]  # fmt: skip
    assert_hot_path_fast(routed)


def assert_hot_path_fast(routed: list[str]) -> None:
    """Every request that succeeded was answered by the fast routes, none by FastAPI."""
    assert all(r.rsplit(" ", 1)[1].startswith("4") for r in routed), routed


async def with_auth(app: FastAPI, client: httpx.AsyncClient) -> list[tuple[Any, ...]]:
    """401, 403 and the refusals of a batch, in each route's shape."""
    store = auth_store_of(app)
    admin = await add_person(store, "root", admin=True)
    alice = await add_person(store, "alice")
    bob = await add_person(store, "bob")
    post = client.post
    out = [answer(await post("/api/v1/jobs", json={"queue": "qa", "type": "t"}))]
    out.append(answer(await post("/api/v1/jobs", json={"queue": "qa", "type": "t"},
                                 headers={"Authorization": "Bearer nope"})))  # fmt: skip
    out.append(answer(await post("/api/v1/jobs", json={"queue": "qa", "type": "t"},
                                 headers={"Authorization": "Basic x"})))  # fmt: skip
    out.append(answer(await post("/api/v1/jobs", json={"queue": "qa", "type": "t"},
                                 headers=bearer(alice))))  # fmt: skip
    out.append(answer(await post("/api/v1/jobs", json={"queue": "qa", "type": "t"},
                                 headers=bearer(bob))))  # fmt: skip
    claim = {"queues": ["qa"], "worker": WORKER}
    out.append(answer(await post("/api/v1/claim", json=claim, headers=bearer(bob))))
    r = await post("/api/v1/claim", json=claim, headers=bearer(alice))
    out.append(answer(r))
    job = r.json()["jobs"][0]
    ack = {"id": job["id"], "token": job["lease_token"]}
    out.append(answer(await post("/api/v1/ack", json={"acks": [ack]}, headers=bearer(bob))))
    out.append(answer(await post("/api/v1/claim", json={**claim, "acks": [ack]},
                                 headers=bearer(admin))))  # fmt: skip
    out.append(answer(await post("/api/v1/claim", json={"queues": ["q"]})))  # invalid, no key
    return out


async def test_authentication_and_permissions_answer_as_fastapi_does(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with app_and_client(tmp_path / "a", fast=False) as (app, (plain, _)):
        expected = await with_auth(app, plain)
    async with app_and_client(tmp_path / "b", fast=True) as (app, (fast, routed)):
        got = await with_auth(app, fast)
    assert got == expected
    assert [status for status, _, _ in got] == [401, 401, 401, 201, 403, 403, 200, 200, 200, 401]
    assert_hot_path_fast(routed)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "fastapi"])
async def test_a_claim_whose_worker_hung_up_while_it_waited_takes_no_job(
    tmp_path: Path, fast: bool
) -> None:
    body = orjson.dumps({"queues": ["q"], "worker": WORKER, "wait": 20})
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/api/v1/claim", "raw_path": b"/api/v1/claim",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000),
        "server": ("jobq", 80), "headers": [(b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))],
    }  # fmt: skip
    hung_up = asyncio.Event()
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await hung_up.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        pass

    async with app_and_client(tmp_path, fast=fast) as (app, (client, routed)):
        claim = asyncio.create_task(app(scope, receive, send))
        engine = app.state.engine
        while len(engine.parking) == 0:
            await asyncio.sleep(0.01)
        hung_up.set()
        job = (await client.post("/api/v1/jobs", json={"queue": "q", "type": "t"})).json()
        await asyncio.wait_for(claim, 20)
        stored = (await client.get(f"/api/v1/jobs/{job['id']}")).json()
        assert (stored["state"], stored["attempt"]) == ("queued", 0)
        assert any(r.startswith("POST /api/v1/claim ") for r in routed) is not fast
