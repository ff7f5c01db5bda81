"""Problems cost follows the caller (issue 26): a user asking for problems gets its own
queues' problems, and the store reads only those queues, however many problem jobs other
tenants hold. On both stores, through the native API and Vidispine."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jobq.auth import service
from jobq.engine import Engine, JobSpec
from jobq.model import ClaimSpec, Worker
from jobq.store.base import Store
from tests.access import basic_of
from tests.authkit import add_person, auth_store_of, bearer, running_app
from tests.conftest import STORES
from tests.pgdb import create_database, drop_database

MINE = "mine"
THEIRS = [f"theirs-{i}" for i in range(12)]
# what each store read the problems make tells of the queues it looked at
READS = ("queue_settings", "type_activity", "failing_jobs", "deadlines_before", "queued_ids")


def spy_queues(store: Store, monkeypatch: pytest.MonkeyPatch) -> dict[str, set[str]]:
    """Per problem read: the queues it was asked about or answered with. `queue_stats` (every
    queue's counts) records "*" when called."""
    seen: dict[str, set[str]] = {name: set() for name in (*READS, "queue_stats")}

    def spy(name: str, queues_of: Callable[[Any, tuple[Any, ...]], set[str]]) -> None:
        original = getattr(store, name)

        async def read(*args: Any) -> Any:
            out = await original(*args)
            seen[name] |= queues_of(out, args)
            return out

        monkeypatch.setattr(store, name, read)

    spy("queue_settings", lambda out, args: {*out, *(args[0] if args and args[0] else "*")})
    spy("type_activity", lambda out, args: {a.queue for a in out})
    spy("failing_jobs", lambda out, args: {j.queue for j in out})
    spy("deadlines_before", lambda out, args: {j.queue for j in out})
    spy("queued_ids", lambda out, args: {args[0]})
    spy("queue_stats", lambda out, args: {"*"})
    return seen


async def _fail_twice(engine: Engine, queue: str) -> None:
    """A live job of `queue` whose attempts failed twice (a `failing` problem)."""
    spec = JobSpec(queue=queue, type="t", max_attempts=5, backoff_base=0.0, backoff_max=0.0)
    await engine.enqueue([spec])
    for _ in range(2):
        await engine.promote_due(time.time() + 1)
        [held] = await engine.claim(ClaimSpec([queue], None, 1, None, Worker("w")), wait=10)
        await engine.fail(held.id, held.lease_token, {"code": "boom", "message": "again"})


async def _tenants(app: Any) -> tuple[str, str]:
    """ann owns MINE, bob owns THEIRS; each queue's jobs are held by problems (no worker,
    deadlines; paused: MINE and one of bob's; failing: MINE and three of bob's), bob's queues
    by many of them. Returns ann's and bob's keys."""
    store, engine = auth_store_of(app), app.state.engine
    settings = engine.problem_finder.settings
    settings.idle_after = 0.0  # every untaken queued job waits for a worker
    settings.deadline_warning, settings.deadline_fraction = 3600.0, 1.0  # deadlines are near
    ann, bob = await add_person(store, "ann"), await add_person(store, "bob")
    for queue, owner in [(MINE, "ann"), *[(q, "bob") for q in THEIRS]]:
        await store.set_queue_owner(queue, owner, time.time())
        if queue in (MINE, *THEIRS[:3]):
            await _fail_twice(engine, queue)  # first: its claims take no other job
        many = 1 if queue == MINE else 30
        spec = JobSpec(queue=queue, type="t", deadline_seconds=600.0, deadline_from_enqueue=True)
        await engine.enqueue([spec] * many)
    await engine.pause(THEIRS[0])
    await engine.pause(MINE)
    return ann, bob


@pytest.mark.parametrize("kind", STORES)
async def test_problems_read_only_the_callers_queues(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = None if kind == "sqlite" else await create_database()
    try:
        async with running_app(tmp_path, db=db) as (app, client):
            ann, bob = await _tenants(app)
            seen = spy_queues(app.state.engine.store, monkeypatch)
            r = await client.get("/api/v1/problems", headers=bearer(ann))
            problems = r.json()["problems"]
            assert {p["queue"] for p in problems} == {MINE}, problems
            assert {p["kind"] for p in problems} == {"queue_paused", "failing", "deadline"}
            assert all(queues <= {MINE} for queues in seen.values()), seen
            assert seen["failing_jobs"] == seen["deadlines_before"] == {MINE}, seen

            for queues in seen.values():
                queues.clear()
            r = await client.get("/API/job/problem", headers=_vidispine("ann", ann))
            listed = r.json()["problem"]
            assert {d["value"] for p in listed for d in p["data"] if d["key"] == "queue"} == {
                MINE
            }, listed
            assert all(queues <= {MINE} for queues in seen.values()), seen

            # bob, the other tenant, still sees all of his (the filter is the caller's)
            r = await client.get("/api/v1/problems", headers=bearer(bob))
            assert {p["queue"] for p in r.json()["problems"]} == set(THEIRS)
    finally:
        if db is not None:
            await drop_database(db)


@pytest.mark.parametrize("kind", STORES)
async def test_a_grant_on_one_queue_shows_its_problems_as_an_administrator_sees_them(
    kind: str, tmp_path: Path
) -> None:
    db = None if kind == "sqlite" else await create_database()
    try:
        async with running_app(tmp_path, db=db) as (app, client):
            ann, _ = await _tenants(app)
            store = auth_store_of(app)
            admin = await add_person(store, "root", admin=True)
            await service.grant(store, THEIRS[1], "ann", "viewer", time.time())
            everything = (await client.get("/api/v1/problems", headers=bearer(admin))).json()
            expected = [p for p in everything["problems"] if p["queue"] in (MINE, THEIRS[1])]
            mine = (await client.get("/api/v1/problems", headers=bearer(ann))).json()
            assert _stable(mine["problems"]) == _stable(expected)
    finally:
        if db is not None:
            await drop_database(db)


def _stable(problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Problems without the seconds a deadline message counts down, their jobs as a set (jobs
    with the same deadline come in no set order)."""
    return [{**p, "message": None, "jobs": set(p["jobs"])} for p in problems]


def _vidispine(user: str, key: str) -> dict[str, str]:
    return {**basic_of(user, key), "Accept": "application/json"}


@pytest.mark.parametrize("kind", STORES)
async def test_problems_name_workers_without_counting_every_running_job(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `no_worker` problem's message tells whether workers ask for the queue: the workers'
    queues, never how many running jobs each holds (a read of every tenant's running jobs).
    The workers listing still counts them."""
    db = None if kind == "sqlite" else await create_database()
    try:
        async with running_app(tmp_path, db=db) as (app, client):
            _, bob = await _tenants(app)
            engine = app.state.engine
            spec = ClaimSpec([THEIRS[5]], None, 1, None, Worker("busy"))
            assert len(await engine.claim(spec, wait=0)) == 1  # a running job
            store = engine.store
            asked: list[bool] = []
            original = store.workers

            async def workers(held: bool = True) -> Any:
                asked.append(held)
                return await original(held)

            monkeypatch.setattr(store, "workers", workers)
            r = await client.get("/api/v1/problems", headers=bearer(bob))
            assert "no_worker" in {p["kind"] for p in r.json()["problems"]}
            assert asked == [False]
            listed = (await original(held=False)) + (await original())
            assert {w.jobs_held for w in listed[: len(listed) // 2]} == {0}
            assert any(w.jobs_held > 0 for w in listed[len(listed) // 2 :]), listed
    finally:
        if db is not None:
            await drop_database(db)
