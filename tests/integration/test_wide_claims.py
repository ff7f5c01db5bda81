"""A claim over many queues (Titan 0.3 `GET /jobs`, Accepted `want_job` with no queue named: every
queue the caller may work on) takes the best jobs of all of them, and on SQLite it costs the
single writer about what a claim over one queue costs: the queues are narrowed on a reader."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from jobq.engine import Engine, JobSpec
from jobq.model import ClaimSpec, Worker
from jobq.notify import Notifier
from jobq.store.base import Store
from jobq.store.sqlite import SQLiteStore
from jobq.store.sqlite import claim as sqlite_claim

QUEUES = [f"q{i:04}" for i in range(300)]


async def _fill(engine: Engine) -> dict[str, str]:
    """A job in every tenth queue, priority rising with the queue's number; the best job of
    all sits in a paused queue. Returns the job ids by queue."""
    specs = [JobSpec(queue=q, type="t", priority=i) for i, q in enumerate(QUEUES) if i % 10 == 0]
    specs.append(JobSpec(queue="paused", type="t", priority=10_000))
    made = await engine.enqueue(specs)
    await engine.pause("paused")
    return {job.queue: job.id for job, _ in made}


def _spec(limit: int, types: list[str] | None = None) -> ClaimSpec:
    return ClaimSpec([*QUEUES, "paused"], types, limit, None, Worker("w"))


async def test_a_claim_over_hundreds_of_queues_takes_the_best_jobs_of_all(
    engine: Engine, store: Store
) -> None:
    ids = await _fill(engine)
    [first] = await engine.claim(_spec(1))
    assert first.id == ids["q0290"]
    best = await engine.claim(_spec(3))
    assert [j.id for j in best] == [ids["q0280"], ids["q0270"], ids["q0260"]]
    typed = await engine.claim(_spec(2, ["nope", "t"]))
    assert [j.id for j in typed] == [ids["q0250"], ids["q0240"]]
    rest = await engine.claim(_spec(100))
    assert len(rest) == 30 - 6 and all(j.queue != "paused" for j in rest)
    assert await engine.claim(_spec(5)) == []


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> Any:
    store = SQLiteStore(str(tmp_path / "jobq.db"))
    await store.open()
    yield Engine(store, Notifier())
    await store.close()


def _writer_statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement a claim runs on the writer's connection."""
    statements: list[str] = []
    original = sqlite_claim.claim

    def claim(c: sqlite3.Connection, *args: Any) -> Any:
        c.set_trace_callback(statements.append)
        try:
            return original(c, *args)
        finally:
            c.set_trace_callback(None)

    monkeypatch.setattr(sqlite_claim, "claim", claim)
    return statements


async def test_a_wide_claim_costs_the_sqlite_writer_a_few_statements(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = sqlite_engine
    many = [f"m{i:05}" for i in range(5_000)]
    await engine.enqueue([JobSpec(queue=q, type="t") for q in many[::50]])
    statements = _writer_statements(monkeypatch)
    started = time.perf_counter()
    claimed = await engine.claim(ClaimSpec(many, None, 2, None, Worker("w")))
    assert [j.queue for j in claimed] == [many[0], many[50]]
    assert 0 < len(statements) <= 6, statements[:10]
    assert time.perf_counter() - started < 60  # a sanity bound, not a speed target


async def test_the_narrowing_reads_each_queue_through_the_claim_index(
    sqlite_engine: Engine,
) -> None:
    store = sqlite_engine.store
    assert isinstance(store, SQLiteStore)

    def plan(c: sqlite3.Connection) -> list[str]:
        rows = c.execute(f"EXPLAIN QUERY PLAN {sqlite_claim.HEADS}", ('["a", "b"]', 1))
        return [r[3] for r in rows]

    steps = await store._readers.run(plan)
    assert any("USING INDEX jobs_claim" in s or "USING COVERING INDEX jobs_claim" in s
               for s in steps), steps  # fmt: skip
    assert not any(s.startswith("SCAN j") or s == "SCAN jobs" for s in steps), steps
