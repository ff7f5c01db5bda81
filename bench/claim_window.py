"""What other tenants' queued jobs cost a claim of every queue.

    .venv/bin/python -m bench.claim_window [--jobs 1000000] [--claims 20] [--store sqlite]
        [--url postgresql://...] [--db FILE]

Fills a database once with `--jobs` urgent queued jobs of type "a", half in each of two other
tenants' queues. Then, one at a time, enqueues a job of type "b" into a third queue and times
the claim of every queue that takes it (limit 1): of any type with both tenants' queues
paused (it steps over their backlog), then of type "b" with one of them resumed (it steps
over the paused jobs and the other type's). Prints each case's p50 and max in milliseconds.
On SQLite the claim runs on the single writer, so its time is how long every other write
waits behind it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import tempfile
import time
import uuid
from typing import Any

from bench.stats import percentile
from jobq.engine import Engine, JobSpec
from jobq.model import ClaimSpec, Worker
from jobq.notify import Notifier
from jobq.store.base import Store

PAUSED, BUSY = "paused-tenant", "busy-tenant"
COLUMNS = ("id, queue, type, priority, state, run_at, lease_seconds, max_attempts, "
           "backoff_base, backoff_max, attempt, created_at, updated_at")  # fmt: skip


def fill_sqlite(path: str, jobs: int) -> None:
    """`jobs` queued jobs, half paused, half of type "a" (once: a filled file is kept)."""
    conn = sqlite3.connect(path)
    if conn.execute("SELECT count(*) FROM jobs").fetchone()[0] >= jobs:
        conn.close()
        return
    now = time.time()
    conn.executemany(
        "INSERT OR IGNORE INTO queues (name, paused, updated_at) VALUES (?, 0, ?)",
        [(PAUSED, now), (BUSY, now)],
    )
    rows = (
        (str(uuid.uuid4()), (PAUSED, BUSY)[i % 2], "a", 9, "queued", now, 60, 3, 2, 3600, 0,
         now, now)
        for i in range(jobs)
    )  # fmt: skip
    conn.executemany(f"INSERT INTO jobs ({COLUMNS}) VALUES ({', '.join('?' * 13)})", rows)
    conn.commit()
    conn.close()


async def fill_postgres(url: str, jobs: int) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        if await conn.fetchval("SELECT count(*) FROM jobs") >= jobs:
            return
        await conn.execute(
            "INSERT INTO queues (name, paused, updated_at) VALUES ($1, 0, 0), ($2, 0, 0) "
            "ON CONFLICT DO NOTHING",
            PAUSED,
            BUSY,
        )
        await conn.execute(
            f"INSERT INTO jobs ({COLUMNS}) SELECT gen_random_uuid()::text, "
            "CASE WHEN i % 2 = 0 THEN $1 ELSE $2 END, 'a', 9, 'queued', 0, 60, 3, 2, 3600, 0, "
            "0, 0 FROM generate_series(1, $3::integer) AS i",
            PAUSED,
            BUSY,
            jobs,
        )
        await conn.execute("VACUUM ANALYZE jobs")
    finally:
        await conn.close()


async def times(engine: Engine, claims: int, types: list[str] | None) -> list[float]:
    """Milliseconds of each claim of every queue (limit 1) that takes the one claimable job."""
    out = []
    for _ in range(claims):
        [(job, _)] = await engine.enqueue([JobSpec(queue="mine", type="b")])
        started = time.perf_counter()
        [got] = await engine.claim(ClaimSpec(None, types, 1, None, Worker("bench")))
        out.append((time.perf_counter() - started) * 1000)
        assert got.id == job.id, (got.queue, got.type)
    return out


async def run(store: Store, claims: int) -> None:
    await store.open()
    try:
        engine = Engine(store, Notifier())
        await engine.pause(PAUSED)
        await engine.pause(BUSY)
        show("any type, both paused", await times(engine, claims, None))
        await engine.resume(BUSY)
        show('type "b", one paused', await times(engine, claims, ["b"]))
    finally:
        await store.close()


def show(case: str, ms: list[float]) -> None:
    print(f"{case}: p50 {percentile(ms, 50):.2f} ms, max {max(ms):.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--claims", type=int, default=20)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/jobq_bench")
    parser.add_argument("--db", default=os.path.join(tempfile.gettempdir(), "claim_window.db"))
    args = parser.parse_args()
    store: Any
    if args.store == "sqlite":
        from jobq.store.sqlite import SQLiteStore

        store = SQLiteStore(args.db)
        store.migrate()
        fill_sqlite(args.db, args.jobs)
    else:
        from jobq.store.postgres import PostgresStore

        store = PostgresStore(args.url)
        asyncio.run(_migrated(store))
        asyncio.run(fill_postgres(args.url, args.jobs))
    asyncio.run(run(store, args.claims))


async def _migrated(store: Store) -> None:
    await store.open()
    await store.close()


if __name__ == "__main__":
    main()
