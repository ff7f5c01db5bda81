"""Open streams and long polls end when their key is revoked or their caller loses the right:
re-checked every few seconds (jobq.api.http.standing), not only when they open. The key is revoked
in the store, as `jobq keys revoke` in another process does (no cache dropped here)."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from jobq.auth import keys, service
from jobq.engine import Engine, JobSpec
from tests.authkit import add_person, auth_store_of, bearer, running_app
from tests.streamkit import RawCall

SOON = 10.0  # seconds within which a revocation must end a stream (cache 2 s + recheck 2 s)


async def person(app, name: str, queue: str, role: str) -> str:
    store = auth_store_of(app)
    key = await add_person(store, name)
    await service.grant(store, queue, name, role, time.time())
    return key


async def revoke(app, key: str) -> None:
    key_id = keys.key_id_of(key)
    assert key_id is not None
    assert await auth_store_of(app).revoke_key(key_id, time.time())


async def a_job(app, queue: str) -> str:
    engine: Engine = app.state.engine
    [(job, _)] = await engine.enqueue([JobSpec(queue=queue)])
    return job.id


async def test_the_events_stream_ends_once_its_key_is_revoked(tmp_path: Path):
    async with running_app(tmp_path) as (app, _):
        await add_person(auth_store_of(app), "root", admin=True)
        key = await person(app, "alice", "q", "viewer")
        call = RawCall(app, "GET", "/api/v1/events", bearer(key)).start()
        try:
            assert not await call.finished(0.3)  # listening now
            await a_job(app, "q")
            assert not await call.finished(0.3)
            assert call.status == 200 and b"event: transition" in call.body
            await revoke(app, key)
            seen = len(call.chunks)
            assert await call.finished(SOON), "the stream outlived its key"
            assert b"event: unauthorized" in call.chunks[-1]
            await a_job(app, "q")
            assert b"event: transition" not in b"".join(call.chunks[seen:])
        finally:
            await call.close()


async def test_a_log_stream_ends_once_the_caller_loses_its_role(tmp_path: Path):
    async with running_app(tmp_path) as (app, _):
        await add_person(auth_store_of(app), "root", admin=True)
        key = await person(app, "bob", "q", "collaborator")
        job_id = await a_job(app, "q")
        url = f"/api/v1/jobs/{job_id}/logs/stream"
        call = RawCall(app, "GET", url, bearer(key)).start()
        try:
            assert not await call.finished(0.5) and call.status == 200
            assert await auth_store_of(app).revoke_grant("q", "bob")
            assert await call.finished(SOON), "the stream outlived the caller's role"
            assert b"event: unauthorized" in call.chunks[-1]
        finally:
            await call.close()


async def test_connect_tail_ends_once_its_key_is_revoked(tmp_path: Path):
    async with running_app(tmp_path) as (app, _):
        await add_person(auth_store_of(app), "root", admin=True)
        key = await person(app, "carol", "tail-me", "collaborator")
        job_id = await a_job(app, "tail-me")
        url = f"/__api__/v1/content/tail-me/jobs/{job_id}/tail"
        call = RawCall(app, "GET", url, {"Authorization": f"Key {key}"}).start()
        try:
            assert not await call.finished(0.5) and call.status == 200
            await revoke(app, key)
            assert await call.finished(SOON), "the tail outlived its key"
        finally:
            await call.close()


@pytest.mark.parametrize("interface", ["native", "accepted"])
async def test_a_long_polling_claim_hands_no_job_to_a_revoked_key(tmp_path: Path, interface):
    async with running_app(tmp_path) as (app, _):
        await add_person(auth_store_of(app), "root", admin=True)
        key = await person(app, "dave", "work", "worker")
        if interface == "native":
            body = orjson.dumps({"queues": ["work"], "wait": 30, "worker": {"name": "w"}})
            headers = {**bearer(key), "Content-Type": "application/json"}
            call = RawCall(app, "POST", "/api/v1/claim", headers, body)
        else:
            headers = {**bearer(key), "X-Accepted-Block-For": "30"}
            call = RawCall(app, "POST", "/accepted/want_job?queue=work", headers)
        call.start()
        try:
            assert not await call.finished(0.5)
            await revoke(app, key)
            time_to_see = 2.5  # the Authenticator's cache of the key (2 s) runs out
            assert not await call.finished(time_to_see)
            job_id = await a_job(app, "work")
            assert await call.finished(SOON)
            assert call.status == 401, call.body
            state = (await app.state.engine.get(job_id)).state
            assert str(state) == "queued"
        finally:
            await call.close()


async def test_a_result_wait_answers_401_once_its_key_is_revoked(tmp_path: Path):
    async with running_app(tmp_path) as (app, _):
        await add_person(auth_store_of(app), "root", admin=True)
        key = await person(app, "erin", "q", "viewer")
        job_id = await a_job(app, "q")
        call = RawCall(app, "GET", f"/api/v1/jobs/{job_id}?wait=4", bearer(key)).start()
        try:
            assert not await call.finished(0.5)  # authenticated, waiting
            await revoke(app, key)
            assert await call.finished(SOON)
            assert call.status == 401, call.body
        finally:
            await call.close()
