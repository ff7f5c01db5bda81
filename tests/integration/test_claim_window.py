"""A claim of every queue reads a window of the queued jobs of all queues, its limit and
sqlite_claim.WINDOW more, in claim order: the jobs of paused queues and of other types ahead
of the claimable ones are other tenants' data, and however many they are, the claim reads no
more of them (on SQLite, on the single writer). A window that holds too few claimable jobs
claims the rest through every queue by name, in the same order."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from jobq.engine import Engine, JobSpec
from jobq.model import ClaimSpec, Job, Worker
from jobq.notify import Notifier
from jobq.store.base import Store
from jobq.store.sqlite import SQLiteStore
from jobq.store.sqlite import claim as sqlite_claim
from tests import pgdb

BACKLOG = 10 * sqlite_claim.WINDOW  # other tenants' jobs ahead, many windows' worth
W = Worker("w")
T = TypeVar("T")


def every(limit: int = 1, types: list[str] | None = None) -> ClaimSpec:
    return ClaimSpec(None, types, limit, None, W)


async def _paused_backlog(engine: Engine, queue: str = "big") -> None:
    """BACKLOG urgent jobs in `queue`, paused."""
    await engine.enqueue([JobSpec(queue=queue, type="t", priority=9) for _ in range(BACKLOG)])
    await engine.pause(queue)


async def _ids(engine: Engine, *jobs: tuple[str, str, int]) -> list[str]:
    made = await engine.enqueue([JobSpec(queue=q, type=t, priority=p) for q, t, p in jobs])
    return [job.id for job, _ in made]


async def test_a_paused_backlog_ahead_leaves_the_claimable_jobs_to_a_claim_of_every_queue(
    engine: Engine,
) -> None:
    await _paused_backlog(engine)
    # one job as urgent as the backlog, within the window; the others beyond it
    ids = await _ids(engine, ("a", "t", 1), ("b", "t", 9), ("c", "t", 0), ("a", "t", 1))
    taken = [j.id for j in await engine.claim(every(3))]
    assert taken == [ids[1], ids[0], ids[3]]  # priority, then age, as ever
    assert [j.id for j in await engine.claim(every(3))] == [ids[2]]
    assert await engine.claim(every(3)) == []


async def test_other_types_ahead_leave_the_asked_type_to_a_claim_of_every_queue(
    engine: Engine,
) -> None:
    await engine.enqueue([JobSpec(queue="a", type="x", priority=9) for _ in range(BACKLOG)])
    ids = await _ids(engine, ("b", "y", 0), ("a", "y", 1), ("c", "z", 5))
    taken = await engine.claim(every(5, ["y", "z"]))
    assert [j.id for j in taken] == [ids[2], ids[1], ids[0]]


async def test_an_acknowledge_and_claim_of_every_queue_claims_past_a_paused_backlog(
    engine: Engine, store: Store
) -> None:
    await _paused_backlog(engine)
    [wanted] = await _ids(engine, ("a", "t", 0))
    _, [job] = await store.transition_and_claim([], every(2), "key", engine.clock())
    assert job.id == wanted


async def test_a_waiting_claim_of_every_queue_gets_new_work_past_a_paused_backlog(
    engine: Engine,
) -> None:
    """In the enqueue's transaction, as when nothing lies ahead (test_handoff)."""
    await _paused_backlog(engine)
    claims = [0]
    store: Any = engine.store
    original = store.claim

    async def claim(*args: Any) -> Any:
        claims[0] += 1
        return await original(*args)

    store.claim = claim
    waiting = asyncio.create_task(engine.claim(every(), wait=20.0))
    for _ in range(2000):
        if engine.parking:
            break
        await asyncio.sleep(0.005)
    [wanted] = await _ids(engine, ("a", "t", 0))
    [held] = await asyncio.wait_for(waiting, 20.0)
    assert held.id == wanted
    assert claims == [1]  # the first, empty try; the job came with the enqueue


# --- what a claim reads on SQLite's writer ---


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> Any:
    store = SQLiteStore(str(tmp_path / "jobq.db"))
    await store.open()
    yield Engine(store, Notifier())
    await store.close()


async def _writer_steps(store: SQLiteStore, run: Callable[[], Awaitable[T]]) -> tuple[T, int]:
    """What `run` returns, and how many SQLite VM steps it took on the writer's connection."""
    steps = [0]

    def step() -> int:
        steps[0] += 1
        return 0

    def watch(c: sqlite3.Connection) -> None:
        c.set_progress_handler(step, 1)

    await store._write(watch)
    try:
        return await run(), steps[0]
    finally:
        await store._write(lambda c: c.set_progress_handler(None, 1))


async def _steps_of(engine: Engine, spec: ClaimSpec) -> tuple[list[Job], int]:
    store = engine.store
    assert isinstance(store, SQLiteStore)
    return await _writer_steps(store, lambda: engine.claim(spec))


async def test_a_paused_backlog_costs_the_sqlite_writer_a_window_not_the_backlog(
    sqlite_engine: Engine,
) -> None:
    engine = sqlite_engine
    await _ids(engine, ("big", "t", 9))
    await engine.pause("big")
    [wanted] = await _ids(engine, ("a", "t", 0))
    [job], small = await _steps_of(engine, every())
    assert job.id == wanted
    await engine.enqueue([JobSpec(queue="big", type="t", priority=9) for _ in range(BACKLOG)])
    [wanted] = await _ids(engine, ("a", "t", 0))
    [job], large = await _steps_of(engine, every())
    assert job.id == wanted
    # a window's worth of steps (and the claim by name), not the backlog's: walking it all
    # took some 25 steps per job, over 60,000 here
    assert large < small + 40 * (1 + sqlite_claim.WINDOW), (small, large)


async def test_other_types_ahead_cost_the_sqlite_writer_a_window_not_their_number(
    sqlite_engine: Engine,
) -> None:
    engine = sqlite_engine
    wanted = (await _ids(engine, ("a", "x", 9), ("b", "y", 0)))[1]
    [job], small = await _steps_of(engine, every(1, ["y"]))
    assert job.id == wanted
    await engine.enqueue([JobSpec(queue="a", type="x", priority=9) for _ in range(BACKLOG)])
    [wanted] = await _ids(engine, ("b", "y", 0))
    [job], large = await _steps_of(engine, every(1, ["y"]))
    assert job.id == wanted
    assert large < small + 40 * (1 + sqlite_claim.WINDOW), (small, large)


async def test_a_listed_paused_queue_costs_the_sqlite_writer_nothing_of_its_backlog(
    sqlite_engine: Engine,
) -> None:
    """The claim of listed queues, and so the rest of a claim of every queue, skips a paused
    queue without reading its jobs."""
    engine = sqlite_engine
    await _ids(engine, ("big", "t", 9))
    await engine.pause("big")
    listed = ClaimSpec(["big", "a"], None, 1, None, W)
    [wanted] = await _ids(engine, ("a", "t", 0))
    [job], small = await _steps_of(engine, listed)
    assert job.id == wanted
    await engine.enqueue([JobSpec(queue="big", type="t", priority=9) for _ in range(BACKLOG)])
    [wanted] = await _ids(engine, ("a", "t", 0))
    [job], large = await _steps_of(engine, listed)
    assert job.id == wanted
    assert large < small + 100, (small, large)


# --- what a claim reads on PostgreSQL ---


@pytest.fixture
async def pg_engine() -> Any:
    """An engine on a new PostgreSQL database, and the database's URL."""
    pytest.importorskip("asyncpg")
    from jobq.store.postgres import PostgresStore

    url = await pgdb.create_database()
    store = PostgresStore(url)
    await store.open()
    yield Engine(store, Notifier()), url
    await store.close()
    await pgdb.drop_database(url)


async def _pick(url: str, types: list[str] | None) -> tuple[list[int], int]:
    """The jobs a claim of every queue of one job picks (jobq_pick), and how many index
    entries of `jobs` it reads to pick them (rolled back)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        transaction = conn.transaction()
        await transaction.start()
        picked = await conn.fetchval("SELECT jobq_pick(NULL, $1, 1)", types)
        read = await conn.fetchval(
            "SELECT sum(pg_stat_get_xact_tuples_returned(indexrelid)) FROM pg_index "
            "WHERE indrelid = 'jobs'::regclass"
        )
        await transaction.rollback()
    finally:
        await conn.close()
    return list(picked), int(read)


async def _seq(engine: Engine, job_id: str) -> int:
    job = await engine.get(job_id)
    assert job is not None and job.seq is not None
    return job.seq


async def test_a_paused_backlog_costs_a_postgresql_claim_a_window_not_the_backlog(
    pg_engine: tuple[Engine, str],
) -> None:
    engine, url = pg_engine
    await _paused_backlog(engine)
    [wanted] = await _ids(engine, ("a", "t", 0))
    picked, read = await _pick(url, None)
    assert picked == [await _seq(engine, wanted)]
    # the window, then queue "a" by name, and the job by key (the backlog: BACKLOG entries)
    assert read <= sqlite_claim.WINDOW + 10, read


async def test_other_types_ahead_cost_a_postgresql_claim_a_window_not_their_number(
    pg_engine: tuple[Engine, str],
) -> None:
    engine, url = pg_engine
    await engine.enqueue([JobSpec(queue="a", type="x", priority=9) for _ in range(BACKLOG)])
    [wanted] = await _ids(engine, ("b", "y", 0))
    picked, read = await _pick(url, ["y"])
    assert picked == [await _seq(engine, wanted)]
    assert read <= sqlite_claim.WINDOW + 10, read


def test_both_stores_read_the_same_window() -> None:
    migration = Path(sqlite_claim.__file__).parents[1] / "postgres" / "migrations"
    text = (migration / "0012_claim_every_queue_window.sql").read_text()
    assert f"v_window constant integer := {sqlite_claim.WINDOW};" in text
