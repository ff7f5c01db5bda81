"""What one tenant with thousands of queues costs everyone else, on SQLite.

    .venv/bin/python -m bench.many_queues [--jobs 1000000] [--queues 20000] [--db FILE]

Fills a SQLite file once with `--jobs` queued jobs spread over `--queues` queues (direct
inserts), starts `jobq serve` on it with a 10 ms event loop lag ticker (JOBQ_LOOP_TICK=0.01),
then measures another client's one-job enqueues (native `POST /api/v1/jobs`, one at a time):
first alone, then while a second client repeats the heavy requests: a Titan 0.3 `GET /jobs`
(a claim over every queue) and a Vidispine `GET /API/job` (a listing over every job). Prints
each heavy request's latency, the enqueue p50/p99 of both phases and the event loop's longest
lag (`jobq_event_loop_lag_max_seconds` from /metrics, after each phase); writes
bench/results/many_queues.json.

Each phase runs on a server of its own, read once at its end: a scrape of /metrics with
20,000 queues holds the event loop itself (it counts every queue's jobs), and the longest lag
is kept since the start, so a scrape between the phases was counted as the heavy client's.
What one scrape costs the loop is shown on its own (`loop_lag_max_ms_of_a_scrape`).

With `--rounds N` the phases alternate N times, so that all see the same spells of the
machine, and a third phase is added to each round as the control: the same heavy client on a
small tenant (`--small-jobs` jobs in `--small-queues` queues, a file of its own). On two
cores any client that keeps the server busy delays the others somewhat; what the many queues
must not do is cost more than that. So "the other tenant's enqueue p99 unchanged" is judged
by the heavy client beside the big tenant against the same client beside the small one, each
phase's p50 and p99 given over the rounds (median, min and max).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from bench.services import ROOT, JobqServer
from bench.stats import percentile
from jobq.store.sqlite import SQLiteStore

RESULTS = ROOT / "bench" / "results" / "many_queues.json"


def fill(path: str, jobs: int, queues: int) -> None:
    """`jobs` queued jobs, round robin over `queues` queues (once: a filled file is kept)."""
    asyncio.run(_migrate(path))
    conn = sqlite3.connect(path)
    if conn.execute("SELECT count(*) FROM jobs").fetchone()[0] >= jobs:
        conn.close()
        return
    now = time.time()
    names = [f"tenant-{i:05}" for i in range(queues)]
    conn.executemany(
        "INSERT OR IGNORE INTO queues (name, paused, updated_at) VALUES (?, 0, ?)",
        [(name, now) for name in names],
    )
    rows = (
        (str(uuid.uuid4()), names[i % queues], "t", "queued", now, 60, 3, 2, 3600, 0, now, now)
        for i in range(jobs)
    )
    conn.executemany(
        "INSERT INTO jobs (id, queue, type, state, run_at, lease_seconds, max_attempts, "
        "backoff_base, backoff_max, attempt, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.commit()  # no ANALYZE: statistics taken while every job waits would mislead later plans
    conn.close()


async def _migrate(path: str) -> None:
    store = SQLiteStore(path)
    await store.open()
    await store.close()


async def enqueues(client: httpx.AsyncClient, n: int) -> list[float]:
    """Seconds of each of n one-job enqueues into the other tenant's own queue."""
    out = []
    for _ in range(n):
        started = time.perf_counter()
        r = await client.post("/api/v1/jobs", json={"queue": "other-tenant", "type": "t"})
        r.raise_for_status()
        out.append(time.perf_counter() - started)
    return out


async def heavy(client: httpx.AsyncClient, stop: asyncio.Event) -> dict[str, list[float]]:
    """Repeat the claim over every queue and the listing over every job until `stop`."""
    spent: dict[str, list[float]] = {"titan03_claim_any_queue": [], "vidispine_list": []}
    calls = {
        "titan03_claim_any_queue": ("/titan-0.3/v1/jobs", {}),
        "vidispine_list": ("/API/job", {"accept": "application/json"}),
    }
    while not stop.is_set():
        for name, (path, headers) in calls.items():
            started = time.perf_counter()
            r = await client.get(path, headers=headers)
            r.raise_for_status()
            spent[name].append(time.perf_counter() - started)
    return spent


async def loop_lags(client: httpx.AsyncClient) -> tuple[float, int]:
    """From one scrape (each scrape holds the loop itself): the longest lag so far, and how
    many of the ticker's timers so far woke more than 50 ms late."""
    text = (await client.get("/metrics")).text
    longest = total = under = None
    for line in text.splitlines():
        if line.startswith("jobq_event_loop_lag_max_seconds "):
            longest = float(line.split()[1])
        if line.startswith("jobq_event_loop_lag_seconds_count "):
            total = float(line.split()[1])
        if line.startswith('jobq_event_loop_lag_seconds_bucket{le="0.05"} '):
            under = float(line.split()[1])
    if longest is None or total is None or under is None:
        raise RuntimeError("the server shows no jobq_event_loop_lag_* figures")
    return longest, int(total - under)


def summary(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {"n": len(ms), "p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99),
            "max_ms": ms[-1]}  # fmt: skip


async def measure_alone(url: str, n: int) -> dict[str, object]:
    """The other tenant's enqueues with nobody else about; then what one scrape costs."""
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        await enqueues(client, 50)  # warm up
        alone = await enqueues(client, n)
        lag, over = await loop_lags(client)
        await asyncio.sleep(0.5)  # the scrape's own stall is recorded once it is over
        after_scrape, _ = await loop_lags(client)
    return {
        "enqueue_alone": summary(alone),
        "loop_lag_max_ms_alone": lag * 1000,
        "loop_lags_over_50ms_alone": over,
        "loop_lag_max_ms_of_a_scrape": after_scrape * 1000,
    }


async def measure_beside(url: str, n: int) -> dict[str, object]:
    """The other tenant's enqueues while the heavy client repeats its requests."""
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        await enqueues(client, 50)  # warm up
        stop = asyncio.Event()
        async with httpx.AsyncClient(base_url=url, timeout=120) as other:
            load = asyncio.create_task(heavy(other, stop))
            await asyncio.sleep(1.0)
            beside = await enqueues(client, n)
            stop.set()
            spent = await load
        lag, over = await loop_lags(client)
    return {
        "enqueue_beside_heavy": summary(beside),
        **{name: summary(s) for name, s in spent.items() if s},
        "loop_lag_max_ms_beside_heavy": lag * 1000,
        "loop_lags_over_50ms_beside_heavy": over,
    }


def served(db: str, measure: Callable[[str, int], Awaitable[dict[str, object]]],
           n: int) -> dict[str, object]:  # fmt: skip
    """`measure` run against a `jobq serve` of its own on `db`."""
    server = JobqServer(f"sqlite:///{db}").start(Path(db + ".log"))
    try:
        return asyncio.run(measure(server.url, n))
    finally:
        server.stop()


def control(small: str, n: int) -> dict[str, object]:
    """The heavy client's phase on the small tenant's file, its figures named `..._small`."""
    return {f"{name}_small": value for name, value in served(small, measure_beside, n).items()}


def over_rounds(rounds: list[dict[str, object]]) -> dict[str, dict[str, float]]:
    """Each phase's enqueue p50 and p99 and the longest loop lag: median, min and max over
    the rounds."""
    out = {}
    for phase in ("enqueue_alone", "enqueue_beside_heavy", "enqueue_beside_heavy_small"):
        for figure in ("p50_ms", "p99_ms"):
            values = sorted(r[phase][figure] for r in rounds)  # type: ignore[index]
            out[f"{phase}_{figure}"] = _spread(values)
    lags = ("alone", "beside_heavy", "beside_heavy_small")
    for lag in (f"loop_lag_max_ms_{name}" for name in lags):
        out[lag] = _spread(sorted(r[lag] for r in rounds))  # type: ignore[type-var]
    return out


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": percentile(values, 50), "min": values[0], "max": values[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--queues", type=int, default=20_000)
    parser.add_argument("--enqueues", type=int, default=500)
    parser.add_argument("--db", default=str(Path(tempfile.gettempdir()) / "jobq-many.db"))
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--small-jobs", type=int, default=1_000)
    parser.add_argument("--small-queues", type=int, default=50)
    args = parser.parse_args()
    started = time.perf_counter()
    fill(args.db, args.jobs, args.queues)
    print(f"filled {args.db}: {args.jobs} jobs in {args.queues} queues "
          f"({time.perf_counter() - started:.0f} s)")  # fmt: skip
    os.environ["JOBQ_LOOP_TICK"] = "0.01"
    small = args.db.removesuffix(".db") + "-small.db"
    if args.rounds > 1:
        fill(small, args.small_jobs, args.small_queues)
    rounds = [
        {
            **served(args.db, measure_alone, args.enqueues),
            **served(args.db, measure_beside, args.enqueues),
            **(control(small, args.enqueues) if args.rounds > 1 else {}),
        }
        for _ in range(args.rounds)
    ]
    figures = {"jobs": args.jobs, "queues": args.queues, **rounds[-1]}
    if args.rounds > 1:
        figures["rounds"] = rounds
        figures["over_rounds"] = over_rounds(rounds)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
