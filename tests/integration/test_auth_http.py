"""Auth over HTTP on a real app and SQLite store: open mode, challenges, the failure limit,
queue ownership, revocation, and the dashboard sign-in."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import pytest

from tests.authkit import add_person, auth_store_of, bearer, running_app


async def test_with_no_users_everything_is_open(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (_, client):
        r = await client.post("/api/v1/jobs", json={"queue": "q"})
        assert r.status_code == 201 and r.json()["owner"] is None
        me = (await client.get("/api/v1/me")).json()
        assert me["open"] is True and me["admin"] is True


async def test_missing_and_bad_keys_get_401_with_a_challenge(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, client):
        await add_person(auth_store_of(app), "ann")
        for headers in ({}, bearer("jobq_nope"), {"Authorization": "Key abc"}):
            r = await client.get("/api/v1/jobs", headers=headers)
            assert r.status_code == 401
            assert r.json()["error"]["code"] == "unauthorized"
            assert r.headers["www-authenticate"].startswith("Bearer")
        assert (await client.get("/healthz")).status_code == 200  # probes need no key


async def test_failed_authentications_are_rate_limited_per_address(tmp_path: Path) -> None:
    async with running_app(tmp_path, auth_fail_limit=3, auth_fail_window=600) as (app, client):
        key = await add_person(auth_store_of(app), "ann")
        assert (await client.get("/api/v1/jobs")).status_code == 401  # no key: not a guess
        for _ in range(3):
            assert (await client.get("/api/v1/jobs", headers=bearer("bad"))).status_code == 401
        r = await client.get("/api/v1/jobs", headers=bearer("bad"))
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "rate_limited"
        assert 500 < int(r.headers["retry-after"]) <= 600
        # once limited, even a good key is not tried: a guess must not be confirmed
        assert (await client.get("/api/v1/jobs", headers=bearer(key))).status_code == 429


async def test_the_first_user_to_enqueue_owns_the_queue(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, client):
        ann = await add_person(auth_store_of(app), "ann")
        bob = await add_person(auth_store_of(app), "bob")
        r = await client.post("/api/v1/jobs", json={"queue": "fresh"}, headers=bearer(ann))
        assert r.status_code == 201 and r.json()["owner"] == "ann"
        job_id = r.json()["id"]
        r = await client.post("/api/v1/jobs", json={"queue": "fresh"}, headers=bearer(bob))
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        assert (await client.get(f"/api/v1/jobs/{job_id}", headers=bearer(bob))).status_code == 404
        r = await client.put(
            "/api/v1/queues/fresh/grants/bob", json={"role": "viewer"}, headers=bearer(ann)
        )
        assert r.status_code == 200
        assert (await client.get(f"/api/v1/jobs/{job_id}", headers=bearer(bob))).status_code == 200
        me = (await client.get("/api/v1/me", headers=bearer(bob))).json()
        assert me["user"] == "bob" and me["roles"] == {"fresh": "viewer"}


async def test_a_revoked_key_stops_working_at_once(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, client):
        root = await add_person(auth_store_of(app), "root", admin=True)
        r = await client.post("/api/v1/users", json={"name": "ann"}, headers=bearer(root))
        assert r.status_code == 201
        r = await client.post("/api/v1/keys", json={"user": "ann"}, headers=bearer(root))
        key, key_id = r.json()["key"], r.json()["id"]
        assert (await client.get("/api/v1/me", headers=bearer(key))).status_code == 200
        listed = (await client.get("/api/v1/keys", headers=bearer(root))).json()["keys"]
        assert all("key" not in k and "hash" not in k for k in listed)
        r = await client.delete(f"/api/v1/keys/{key_id}", headers=bearer(root))
        assert r.status_code == 204
        assert (await client.get("/api/v1/me", headers=bearer(key))).status_code == 401


async def test_admin_routes_answer_bad_input_in_the_native_shape(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, client):
        root = await add_person(auth_store_of(app), "root", admin=True)
        r = await client.post("/api/v1/users", json={"name": "a b"}, headers=bearer(root))
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid"
        r = await client.post("/api/v1/users", json={"name": "root"}, headers=bearer(root))
        assert r.status_code == 409
        r = await client.post("/api/v1/keys", json={"user": "ghost"}, headers=bearer(root))
        assert r.status_code == 404
        r = await client.put(
            "/api/v1/queues/q/grants/root", json={"role": "emperor"}, headers=bearer(root)
        )
        assert r.status_code == 422


def _csrf(html: str) -> str:
    match = re.search(r"name='csrf' value='([^']+)'", html)
    assert match is not None
    return match.group(1)


async def test_dashboard_sign_in_sets_a_strict_http_only_session(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, client):
        key = await add_person(auth_store_of(app), "ann")
        assert (await client.get("/ui/session")).status_code == 401
        page = await client.get("/ui/login")
        token = _csrf(page.text)
        r = await client.post("/ui/login", data={"key": key, "csrf": "forged"})
        assert r.status_code == 403
        r = await client.post("/ui/login", data={"key": "wrong", "csrf": token})
        assert r.status_code == 401
        r = await client.post(
            "/ui/login", data={"key": key, "csrf": token},
            headers={"Origin": "https://evil.example"},
        )  # fmt: skip
        assert r.status_code == 403
        r = await client.post("/ui/login", data={"key": key, "csrf": token})
        assert r.status_code == 303
        cookie = r.headers["set-cookie"]
        assert "jobq_session=" in cookie and "HttpOnly" in cookie
        assert "samesite=strict" in cookie.lower()
        assert (await client.get("/ui/session")).json()["user"] == "ann"
        assert (await client.post("/ui/logout", data={"csrf": "forged"})).status_code == 403
        r = await client.post("/ui/logout", data={"csrf": token})
        assert r.status_code == 303
        assert (await client.get("/ui/session")).status_code == 401


async def test_a_forged_or_revoked_session_is_refused(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, client):
        key = await add_person(auth_store_of(app), "ann")
        token = _csrf((await client.get("/ui/login")).text)
        await client.post("/ui/login", data={"key": key, "csrf": token})
        value = client.cookies["jobq_session"]
        client.cookies.set("jobq_session", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
        assert (await client.get("/ui/session")).status_code == 401
        client.cookies.set("jobq_session", value)
        me = await client.get("/ui/session")
        assert me.status_code == 200
        await auth_store_of(app).revoke_key(me.json()["key_id"], 0.0)
        assert (await client.get("/ui/session")).status_code == 401


async def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, client):
        key = await add_person(auth_store_of(app), "ann")
        token = _csrf((await client.get("/ui/login")).text)
        await client.post("/ui/login", data={"key": key, "csrf": token})
        copied = client.cookies["jobq_session"]
        assert (await client.get("/ui/session")).status_code == 200
        assert (await client.post("/ui/logout", data={"csrf": token})).status_code == 303
        client.cookies.set("jobq_session", copied)  # a copy kept from before signing out
        assert (await client.get("/ui/session")).status_code == 401
        r = await client.get("/api/v1/queues")
        assert r.status_code == 401 and "session has ended" in r.json()["error"]["message"]


async def test_every_request_is_logged_as_insecure_on_a_public_bind(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_app(tmp_path, host="0.0.0.0", insecure=True) as (_, client):
        with caplog.at_level(logging.WARNING, logger="jobq.auth"):
            await client.get("/api/v1/queues")
            await client.get("/api/v1/jobs")
    insecure = [r for r in caplog.records if "INSECURE" in r.getMessage()]
    assert len(insecure) == 2 and "/api/v1/jobs" in insecure[1].getMessage()


async def test_a_batch_answers_each_item_by_its_own_queue(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (app, client):
        ann = await add_person(auth_store_of(app), "ann")
        bob = await add_person(auth_store_of(app), "bob")
        for key, queue in ((ann, "anns"), (bob, "bobs")):
            r = await client.post("/api/v1/jobs", json={"queue": queue}, headers=bearer(key))
            assert r.status_code == 201
            claim = {"queues": [queue], "worker": {"name": "w"}}
            r = await client.post("/api/v1/claim", json=claim, headers=bearer(key))
            [job] = r.json()["jobs"]
            if key == ann:
                mine = (job["id"], job["lease_token"])
            else:
                theirs = (job["id"], job["lease_token"])
        acks = [{"id": i, "token": t} for i, t in (theirs, mine, theirs)]
        r = await client.post("/api/v1/ack", json={"acks": acks}, headers=bearer(ann))
        results = r.json()["results"]
        assert [x["id"] for x in results] == [theirs[0], mine[0], theirs[0]]
        assert [x["ok"] for x in results] == [False, True, False]
        assert results[0]["error"]["code"] == "not_found"
        job = (await client.get(f"/api/v1/jobs/{theirs[0]}", headers=bearer(bob))).json()
        assert job["state"] == "running"
        # acknowledgements carried on a claim are checked the same way, item by item
        claim = {"queues": ["anns"], "worker": {"name": "w"}, "acks": acks}
        r = await client.post("/api/v1/claim", json=claim, headers=bearer(ann))
        assert r.status_code == 200 and r.json()["jobs"] == []
        assert [x["ok"] for x in r.json()["results"]] == [False, False, False]
        assert [x["error"]["code"] for x in r.json()["results"]][1] == "stale_lease"
        job = (await client.get(f"/api/v1/jobs/{theirs[0]}", headers=bearer(bob))).json()
        assert job["state"] == "running"
        claim = {"queues": ["bobs"], "worker": {"name": "w"}, "acks": []}
        r = await client.post("/api/v1/claim", json=claim, headers=bearer(ann))
        assert r.status_code == 403


async def test_the_event_stream_shows_only_readable_queues(tmp_path: Path) -> None:
    from jobq.api.native.logs import _follow_events
    from jobq.auth.guard import Guard
    from jobq.auth.model import Principal, Role
    from jobq.engine import JobSpec

    async with running_app(tmp_path) as (app, _):
        engine = app.state.engine
        guard = Guard(Principal("ann", False), {"seen": Role.viewer, "worked": Role.worker},
                      engine, auth_store_of(app))  # fmt: skip
        events = _follow_events(engine, lambda: guard)
        assert await anext(events) == b": keep-alive\n\n"
        pending = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0)
        for queue in ("hidden", "worked", "seen"):
            await engine.enqueue([JobSpec(queue=queue)])
        frame = await asyncio.wait_for(pending, 30)
        assert b'"queue":"seen"' in frame
        await events.aclose()
