"""A claim over many queues (Titan 0.3 `GET /jobs`, Accepted `want_job` with no queue named: every
queue the caller may work on) takes the best jobs of all of them, on both stores; on SQLite the
queues are narrowed through the claim index."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from jobq.engine import Engine, JobSpec
from jobq.model import ClaimSpec, Worker
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


async def test_a_claim_over_thousands_of_queues_takes_their_jobs_in_order(engine: Engine) -> None:
    many = [f"m{i:05}" for i in range(5_000)]
    await engine.enqueue([JobSpec(queue=q, type="t") for q in many[::50]])
    claimed = await engine.claim(ClaimSpec(many, None, 2, None, Worker("w")))
    assert [j.queue for j in claimed] == [many[0], many[50]]  # as urgent: the oldest first
    rest = await engine.claim(ClaimSpec(many[::-1], None, 500, None, Worker("w")))
    assert [j.queue for j in rest] == many[100::50]
    assert await engine.claim(ClaimSpec(many, None, 1, None, Worker("w"))) == []


async def test_the_narrowing_reads_each_queue_through_the_claim_index(tmp_path: Path) -> None:
    """The query plan is the contract here: a claim over thousands of queues stays cheap only
    while SQLite reads each queue's head through the claim index (an index step per queue)
    rather than scanning the jobs; no answer shows the difference, and timing it on a shared
    machine would be flaky."""
    steps = [s for _, _, s in await _sqlite_plan(tmp_path, sqlite_claim.HEADS, ('["a", "b"]', 1))]
    assert any("USING INDEX jobs_claim" in s or "USING COVERING INDEX jobs_claim" in s
               for s in steps), steps  # fmt: skip
    assert not any(s.startswith("SCAN j") or s == "SCAN jobs" for s in steps), steps


async def test_a_claim_of_every_queue_walks_one_index_in_claim_order(tmp_path: Path) -> None:
    """No list of queues and no read of each queue: the first queued jobs of all queues, in
    claim order, through jobs_claim_all alone (the paused queues through their own small
    index); the only sort is of that window's claimable jobs, never of every queued job. The
    plan is the contract, as above: it keeps such a claim's cost independent of how many
    queues and queued jobs there are."""
    params = (None, "key", 1.0, "{}", 1)
    rows = await _sqlite_plan(tmp_path, sqlite_claim.LEASE_BEST_OF_ALL, params)
    steps = [s for _, _, s in rows]
    detail = {node: s for node, _, s in rows}
    under = {s: detail.get(parent, "") for _, parent, s in rows}
    assert under["SCAN jobs USING COVERING INDEX jobs_claim_all"].startswith("CO-ROUTINE"), rows
    assert "SCAN queues USING INDEX queues_paused" in steps, steps
    assert not any(s in ("SCAN jobs", "SCAN queues") for s in steps), steps
    sorts = [s for s in steps if "TEMP B-TREE" in s]
    assert sorts == ["USE TEMP B-TREE FOR ORDER BY"], steps
    assert not under[sorts[0]].startswith("CO-ROUTINE"), rows


async def _sqlite_plan(
    tmp_path: Path, sql: str, params: tuple[object, ...]
) -> list[tuple[int, int, str]]:
    """SQLite's plan for `sql` in a freshly migrated database: (node, parent, detail) rows."""
    store = SQLiteStore(str(tmp_path / "jobq.db"))
    await store.open()  # migrated
    await store.close()
    with contextlib.closing(sqlite3.connect(tmp_path / "jobq.db")) as c:
        return [(r[0], r[1], r[3]) for r in c.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
