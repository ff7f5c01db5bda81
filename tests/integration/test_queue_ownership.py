"""How queues get owners (issue 26, finding 2): a user owns a queue only by creating it; an
existing queue (jobs, grants, paused, `default`) is never taken by enqueueing into it, on any
interface and either store, and a database made before this rule migrates to it."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
import pytest

from jobq.auth import service
from jobq.auth.store import auth_store_for
from jobq.engine import Engine, JobSpec
from jobq.model import QueueChange
from jobq.store.postgres.conn import migrate
from tests import pgdb
from tests.access import basic_of
from tests.authkit import add_person, auth_store_of, bearer, running_app
from tests.conftest import STORES

SQLITE_SQL = Path(__file__).parents[2] / "src/jobq/store/sqlite/migrations"
LEGACY_JOB = (
    "INSERT INTO jobs (id, queue, type, payload, state, run_at, lease_seconds, max_attempts, "
    "backoff_base, backoff_max, created_at, updated_at) "
    "VALUES ('legacy-1', 'legacy', 'default', '1', 'queued', 1, 60, 3, 2, 3600, 1, 1)"
)
Enqueue = Callable[[httpx.AsyncClient, str, str], Awaitable[httpx.Response]]


async def test_only_a_new_queue_is_taken(engine: Engine) -> None:
    """The store's rule: no owner, no grant, no row in `queues` (never used, never paused)."""
    auth = auth_store_for(engine.store)
    for name in ("ann", "bob"):
        await service.add_user(auth, name, False, 1.0)
    assert await auth.claim_queue("new", "ann", 2.0) == "ann"
    assert await auth.claim_queue("new", "bob", 3.0) == "ann"
    await engine.enqueue([JobSpec(queue="used")])
    assert await auth.claim_queue("used", "bob", 3.0) is None
    await service.grant(auth, "granted", "ann", "worker", 2.0)
    assert await auth.claim_queue("granted", "bob", 3.0) is None
    await engine.store.configure_queue("paused", QueueChange(paused=True), 2.0)
    assert await auth.claim_queue("paused", "bob", 3.0) is None
    assert await auth.roles("bob") == {}


async def native(client: httpx.AsyncClient, key: str, queue: str) -> httpx.Response:
    return await client.post("/api/v1/jobs", json={"queue": queue}, headers=bearer(key))


async def titan03(client: httpx.AsyncClient, key: str, queue: str) -> httpx.Response:
    body = {"jobs": [{"image": "x", "priority": 0}]}
    return await client.post(f"/titan-0.3/v1/groups/{queue}/jobs", json=body, headers=bearer(key))


async def titan02(client: httpx.AsyncClient, key: str, queue: str) -> httpx.Response:
    assert queue == "default"  # Titan 0.2's one queue
    body = {"jobs": [{"image": "x", "priority": 0}]}
    return await client.post("/titan-0.2/v1/jobs", json=body, headers=bearer(key))


async def accepted(client: httpx.AsyncClient, key: str, queue: str) -> httpx.Response:
    return await client.post("/accepted/jobs", json={"queue": queue}, headers=bearer(key))


async def vidispine(client: httpx.AsyncClient, key: str, queue: str) -> httpx.Response:
    headers = {**basic_of("mallory", key), "Accept": "application/json"}
    return await client.post(f"/API/job?type={queue}", headers=headers)


ENQUEUE: dict[str, Enqueue] = {
    "native": native, "titan-0.3": titan03, "accepted": accepted, "vidispine": vidispine,
}  # fmt: skip
REFUSED = {"native": 403, "titan-0.3": 403, "accepted": 403, "vidispine": 403, "titan-0.2": 403}


async def _database(kind: str, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'jobq.db'}"
    return await pgdb.create_database()


async def _existing_queues(app: object, client: httpx.AsyncClient, admin: str) -> None:
    """What the issue lists: a queue an administrator enqueued into (holding alice's grant),
    one set up with `jobq queues grant` alone, and a paused one."""
    store = auth_store_of(app)  # type: ignore[arg-type]
    assert (await native(client, admin, "shared")).status_code == 201
    await service.grant(store, "shared", "alice", "viewer", time.time())
    await service.grant(store, "reports", "alice", "worker", time.time())
    r = await client.post("/api/v1/queues/held/pause", headers=bearer(admin))
    assert r.status_code == 200


@pytest.mark.parametrize("kind", STORES)
async def test_enqueueing_never_takes_an_existing_queue(kind: str, tmp_path: Path) -> None:
    db = await _database(kind, tmp_path)
    try:
        async with running_app(tmp_path, db=db) as (app, client):
            store = auth_store_of(app)
            admin = await add_person(store, "root", admin=True)
            await add_person(store, "alice")
            mallory = await add_person(store, "mallory")
            await _existing_queues(app, client, admin)
            for name, enqueue in ENQUEUE.items():
                for queue in ("shared", "reports", "held", "default"):
                    r = await enqueue(client, mallory, queue)
                    assert r.status_code == REFUSED[name], (name, queue, r.text)
            r = await titan02(client, mallory, "default")
            assert r.status_code == REFUSED["titan-0.2"], r.text
            assert await store.roles("mallory") == {}
            assert await store.queue_owner("shared") is None
            # a queue nobody has used is created by the enqueue, and its creator owns it
            for n, (name, enqueue) in enumerate(ENQUEUE.items()):
                r = await enqueue(client, mallory, f"mine-{n}")
                assert r.status_code in (200, 201, 202), (name, r.text)
                assert await store.queue_owner(f"mine-{n}") == "mallory", name
    finally:
        if kind == "postgres":
            await pgdb.drop_database(db)


def _old_sqlite(path: Path) -> None:
    """A database as jobq made it before migration 4: a user, jobs of queue `legacy` (its
    row in `queues` missing, as any database may lack it), nobody owning the queue."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)")
    for version in (1, 2, 3):
        [file] = SQLITE_SQL.glob(f"{version:04d}_*.sql")
        for statement in file.read_text().split(";\n"):
            if statement.strip():
                conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?)", (version,))
    conn.execute("INSERT INTO users (name, admin, created_at) VALUES ('mallory', 0, 1)")
    conn.execute(LEGACY_JOB)
    conn.commit()
    conn.close()


async def _old_postgres() -> str:
    url = await pgdb.create_database(migrated=False)
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn, upto=6)
        await conn.execute("INSERT INTO users VALUES ('mallory', false, 1)")
        await conn.execute(LEGACY_JOB)
    finally:
        await conn.close()
    return url


@pytest.mark.parametrize("kind", STORES)
async def test_an_old_database_migrates_without_giving_its_queues_away(
    kind: str, tmp_path: Path
) -> None:
    if kind == "sqlite":
        _old_sqlite(tmp_path / "jobq.db")
        db = f"sqlite:///{tmp_path / 'jobq.db'}"
    else:
        db = await _old_postgres()
    try:
        async with running_app(tmp_path, db=db) as (app, client):
            store = auth_store_of(app)
            _, mallory = await service.create_key(store, "mallory", "k", time.time())
            r = await native(client, mallory, "legacy")
            assert r.status_code == 403, r.text
            assert await store.queue_owner("legacy") is None
            r = await client.get("/api/v1/jobs/legacy-1", headers=bearer(mallory))
            assert r.status_code == 404
    finally:
        if kind == "postgres":
            await pgdb.drop_database(db)


async def test_the_queues_a_user_may_create_are_bounded_by_a_setting(tmp_path: Path) -> None:
    async with running_app(tmp_path, max_queues_per_user=2) as (app, client):
        ann = await add_person(auth_store_of(app), "ann")
        root = await add_person(auth_store_of(app), "root", admin=True)
        for queue in ("a1", "a2"):
            r = await client.post("/api/v1/jobs", json={"queue": queue}, headers=bearer(ann))
            assert r.status_code == 201, r.text
        r = await client.post("/api/v1/jobs", json={"queue": "a3"}, headers=bearer(ann))
        assert r.status_code == 403 and "--max-queues-per-user" in r.text, r.text
        assert await auth_store_of(app).queue_owner("a3") is None
        r = await client.post("/api/v1/jobs", json={"queue": "a1"}, headers=bearer(ann))
        assert r.status_code == 201  # its own queues still take jobs
        r = await client.post("/api/v1/jobs", json={"queue": "r1"}, headers=bearer(root))
        assert r.status_code == 201  # administrators are not bounded
    (tmp_path / "none").mkdir()
    async with running_app(tmp_path / "none", max_queues_per_user=0) as (app, client):
        bob = await add_person(auth_store_of(app), "bob")
        r = await client.post("/api/v1/jobs", json={"queue": "b1"}, headers=bearer(bob))
        assert r.status_code == 403
