"""On SQLite a job handed to a waiting claim is inserted leased (jobq.store.sqlite.handover):
no UPDATE of the row just inserted, and the job as stored is the job the claimer holds."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from jobq.engine import Engine, JobSpec
from jobq.model import ClaimSpec, Worker
from jobq.notify import Notifier
from jobq.states import State
from jobq.store.sqlite import SQLiteStore
from jobq.store.sqlite import handover as sqlite_handover

WAIT = 20.0


@pytest.fixture
async def engine(tmp_path: Path) -> Any:
    store = SQLiteStore(str(tmp_path / "jobq.db"))
    await store.open()
    yield Engine(store, Notifier())
    await store.close()


def spy(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Each hand-over's outcome: True when it inserted the job leased."""
    outcomes: list[bool] = []
    original = sqlite_handover.hand_over

    def hand_over(c: sqlite3.Connection, *args: Any) -> Any:
        statements: list[str] = []
        c.set_trace_callback(statements.append)
        try:
            got = original(c, *args)
        finally:
            c.set_trace_callback(None)
        assert not any(s.lstrip().startswith("UPDATE jobs") for s in statements)
        outcomes.append(got is not None)
        return got

    monkeypatch.setattr(sqlite_handover, "hand_over", hand_over)
    return outcomes


async def handed(engine: Engine, claim: ClaimSpec, queued: Any = None, **job: Any) -> Any:
    """The new job and what the waiting claim got; `queued`: a job written past the engine
    (no claim woken) once the claim is parked."""
    waiting = asyncio.create_task(engine.claim(claim, wait=WAIT))
    while len(engine.parking) == 0:
        await asyncio.sleep(0.005)
    if queued is not None:
        await engine.store.insert([queued], engine.clock())
    [(new, _)] = await engine.enqueue([JobSpec(**{"queue": "q", "type": "t", **job})])
    [held] = await asyncio.wait_for(waiting, WAIT)
    return new, held


def claim(*types: str) -> ClaimSpec:
    return ClaimSpec(["q", "other"], list(types) or None, 1, None, Worker("w", "h", 1))


async def test_a_new_job_for_a_waiting_claim_is_inserted_leased(engine: Engine, monkeypatch):
    outcomes = spy(monkeypatch)
    new, held = await handed(engine, claim(), priority=2)
    assert outcomes == [True]
    assert new.state is State.queued  # the producer sees the job as it asked for it
    assert held.id == new.id and held.seq == new.seq and held.state is State.running
    assert await engine.get(new.id) == held
    [attempt] = await engine.attempts(new.id)
    assert (attempt.attempt, attempt.started_at) == (1, held.started_at)


@pytest.mark.parametrize(("kind", "priority", "leased"), [
    ("t", 2, False),  # as urgent, older: it comes first
    ("t", 1, True),  # less urgent: the new job comes first
    ("u", 5, True),  # a type the claim does not want
])  # fmt: skip
async def test_a_queued_job_that_comes_first_keeps_the_insert_plain(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, kind: str, priority: int, leased: bool
):
    older = engine.build(JobSpec(queue="other", type=kind, priority=priority), engine.clock())
    outcomes = spy(monkeypatch)
    new, held = await handed(engine, claim("t"), older, priority=2)
    assert outcomes == [leased]
    assert held.id == (new.id if leased else older.id)
    assert (await engine.get(new.id)).state is (State.running if leased else State.queued)


async def test_a_paused_queue_is_not_handed_over(engine: Engine, monkeypatch):
    await engine.pause("q")
    outcomes = spy(monkeypatch)
    waiting = asyncio.create_task(engine.claim(claim(), wait=WAIT))
    while len(engine.parking) == 0:
        await asyncio.sleep(0.005)
    [(new, _)] = await engine.enqueue([JobSpec(queue="q", type="t")])
    assert outcomes == [False]
    assert (await engine.get(new.id)).state is State.queued
    waiting.cancel()
