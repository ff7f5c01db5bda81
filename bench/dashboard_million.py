"""What the dashboard's reads cost with 1,000,000 jobs in a SQLite store.

    .venv/bin/python bench/dashboard_million.py [/tmp/million.db]

Fills the file once (jobs spread over 10 queues and all six states, 10,000 of them finished in
the last hour), then times each read a dashboard page makes: queue_stats (Overview, Queues),
finished_counts (the throughput chart), the first and a deep page of the job list with and
without filters, workers, and the problems (read on every page for the menu). Prints
milliseconds per call (best of 5).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import time
import uuid

from jobq.engine.problems import ProblemFinder
from jobq.model import JobQuery
from jobq.states import State
from jobq.store.sqlite import SQLiteStore

N = 1_000_000
STATES = ["succeeded"] * 80 + ["failed"] * 10 + ["queued"] * 6 + ["scheduled", "running"] * 2


def fill(path: str) -> None:
    conn = sqlite3.connect(path)
    if conn.execute("SELECT count(*) FROM jobs").fetchone()[0] >= N:
        return
    now = time.time()
    start = now - 30 * 86400
    rows = []
    for i in range(N):
        state = STATES[i % len(STATES)]
        created = start + i * (30 * 86400 - 3600) / N
        recent = i >= N - 10_000
        finished = (now - 3600 + (i - (N - 10_000)) * 0.36) if recent else created + 5
        finished_at = finished if state in ("succeeded", "failed") else None
        rows.append((
            str(uuid.uuid4()), f"q{i % 10}", f"t{i % 7}", state, created, 60, 3, 2, 3600, 1,
            created, created, finished_at, f'{{"tenant": "t{i % 100}"}}',
        ))  # fmt: skip
    conn.executemany(
        "INSERT INTO jobs (id, queue, type, state, run_at, lease_seconds, max_attempts, "
        "backoff_base, backoff_max, attempt, created_at, updated_at, finished_at, metadata) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


async def timed(label: str, call: object) -> None:
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        await call()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t)
    print(f"{label:<48} {best * 1000:8.1f} ms")


async def main(path: str) -> None:
    store = SQLiteStore(path)
    await store.open()
    fill(path)
    now = time.time()
    deep = (await store.list_jobs(JobQuery(limit=1, sort="seq", descending=True)))[0].seq - N // 2
    q = JobQuery
    await timed("queue_stats()", lambda: store.queue_stats())
    await timed("finished_counts(last hour, per minute)",
                lambda: store.finished_counts(now - 3600, 60))  # fmt: skip
    await timed("list_jobs: newest 50", lambda: store.list_jobs(q(limit=50, descending=True)))
    await timed("list_jobs: newest 50 of queue q3, failed",
                lambda: store.list_jobs(q(queues=["q3"], states=[State.failed], limit=50,
                                          descending=True)))  # fmt: skip
    await timed(
        "list_jobs: 50 after a cursor half-way down",
        lambda: store.list_jobs(q(limit=50, descending=True, after=(deep, deep))),
    )
    await timed("list_jobs: newest 50 of type t3, meta tenant=t7",
                lambda: store.list_jobs(q(types=["t3"], metadata={"tenant": "t7"}, limit=50,
                                          descending=True)))  # fmt: skip
    await timed("workers()", lambda: store.workers())
    finder = ProblemFinder(store)
    await timed("problems (every page: the menu's count)", lambda: finder.find(time.time()))
    await store.close()


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else "/tmp/jobq-million.db"
    print(f"{target}: {os.path.getsize(target) if os.path.exists(target) else 0} bytes before")
    asyncio.run(main(target))
