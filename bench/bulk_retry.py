"""Bulk retry of 100,000 failed jobs: how fast, and whether the server's memory stays flat.

    python -m bench.bulk_retry --store sqlite|postgres [--jobs 100000] [--out FILE]

A fresh database is filled with `--jobs` failed jobs of one queue (written straight through the
store, before the server starts), then a real `jobq serve` is asked for one bulk retry of them
(`POST /api/v1/jobs/bulk/retry` with a filter: an operation). The clock is the operation's own
(`created_at` to `finished_at`, the server's time); the server's RSS is sampled every 0.1 s
while it runs. Printed: jobs/s, RSS before, at its highest and at the end, at each quarter of
the run, and its growth over the second half (flat memory: a page of jobs at a time, never
the whole set; the first seconds fill the database's page caches). Checked: every failed job
has exactly one retry, and nothing else was made.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.services import JobqServer, create_pg_database, drop_pg_database, machine, rss_mb
from jobq.model import Job, new_ids
from jobq.states import State
from jobq.store import open_store

QUEUE = "bulk"
FILL_BATCH = 5000


async def fill_failed(db: str, n: int, queue: str = QUEUE) -> None:
    """`n` failed jobs of `queue` in the (migrated) database at `db`, through the store."""
    store = open_store(db)
    await store.open()
    try:
        now = time.time()
        for start in range(0, n, FILL_BATCH):
            size = min(FILL_BATCH, n - start)
            ids = new_ids(size, now)
            jobs = [failed_job(job_id, start + i, queue, now) for i, job_id in enumerate(ids)]
            await store.insert(jobs, now)
    finally:
        await store.close()


def failed_job(job_id: str, n: int, queue: str, now: float) -> Job:
    """A job that failed its one attempt at `now`."""
    job = Job(id=job_id, queue=queue, type="t", payload={"n": n}, state=State.failed)
    job.attempt = job.max_attempts = 1
    job.run_at = job.created_at = job.updated_at = job.started_at = job.finished_at = now
    job.error = {"code": "boom", "message": "failed for the benchmark"}
    return job


class Sampler:
    """The RSS of a process, every `every` seconds, in a thread."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        self.pid, self.every = pid, every
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(rss_mb(self.pid))
            self._stop.wait(self.every)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run(db: str, n: int, log: Path) -> dict[str, Any]:
    asyncio.run(fill_failed(db, n))
    server = JobqServer(db).start(log)
    assert server.proc is not None
    try:
        with httpx.Client(base_url=f"{server.url}/api/v1", timeout=60) as http:
            return measure(http, server.proc.pid, n)
    finally:
        server.stop()


def measure(http: httpx.Client, pid: int, n: int) -> dict[str, Any]:
    body = {"filter": {"queues": [QUEUE], "states": ["failed"]}}
    before = rss_mb(pid)
    with Sampler(pid) as sampler:
        op = http.post("/jobs/bulk/retry", json=body).raise_for_status().json()
        while op["state"] == "running":
            time.sleep(0.1)
            op = http.get(f"/operations/{op['id']}").raise_for_status().json()
    if (op["state"], op["done"], op["failed"]) != ("done", n, 0):
        raise RuntimeError(f"the operation did not retry every job: {op}")
    check(http, n)
    seconds = _seconds(op["finished_at"]) - _seconds(op["created_at"])
    samples = sampler.samples
    return {
        "jobs": n,
        "seconds": round(seconds, 2),
        "jobs_per_s": round(n / seconds),
        "rss_mb_before": round(before, 1),
        "rss_mb_max": round(max(samples), 1),
        "rss_mb_end": round(samples[-1], 1),
        # the page caches fill (SQLite: up to the store's cache_mib) in the first seconds;
        # after that, growth would be memory held per job
        "rss_mb_growth_second_half": round(samples[-1] - samples[len(samples) // 2], 1),
        "rss_mb_quartiles": [round(samples[len(samples) * q // 4], 1) for q in range(4)],
        "samples": len(samples),
    }


def check(http: httpx.Client, n: int) -> None:
    """Every failed job retried once: n queued retries, n failed jobs marked retried."""
    [queue] = [q for q in http.get("/queues").json()["queues"] if q["name"] == QUEUE]
    counts, retried = queue["counts"], queue["retried"]
    if (counts["queued"], counts["failed"], retried["failed"]) != (n, n, n):
        raise RuntimeError(f"expected {n} retries of {n} failed jobs, found {queue}")


def _seconds(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--out", type=Path, help="also write the figures here (JSON)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jobq-bulk-") as tmp:
        db = f"sqlite:///{tmp}/bulk.db" if args.store == "sqlite" else create_pg_database("bulk")
        try:
            figures = run(db, args.jobs, Path(tmp) / "server.log")
        finally:
            if args.store == "postgres":
                drop_pg_database(db)
    result = {"store": args.store, "machine": machine(), **figures}
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
