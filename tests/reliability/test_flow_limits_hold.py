"""Queue flow limits hold under real load: real `jobq serve` nodes (3 on one PostgreSQL, and
one on SQLite), real `jobq worker` processes claiming from all of them at once, some killed
with kill -9 mid-run and started again, and the limits changed mid-run through the store (what
an operator's change through any node amounts to).

A sampler thread reads the database every ~15 ms, one statement per sample (one snapshot):
the running jobs of the limited queue, per key, and those started since the last change of its
concurrency. A lower limit holds for every claim after it (docs/design.md, "Flow control"), but
jobs already running stay running; so each sample must hold
- at most `per_key` running jobs of any key,
- at most the largest concurrency set so far in all (each running job was claimed within one
  of them),
- at most the current concurrency among the jobs started after it was set (a claim whose clock
  reads later than the change's commit began after it, and counted room under the new value).
The rate-limited queue is checked from the attempts' starts afterwards: no `period` seconds
(the store's window, (t - period, t]) hold more than `rate` of them.
"""

from __future__ import annotations

import asyncio
import math
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobq.model import QueueChange, QueueLimits
from jobq.store import open_store
from tests.acceptance.conftest import WorkerProcess
from tests.conftest import Server
from tests.reliability.figures import record, size
from tests.reliability.test_worker_crash import running_by_worker

pytestmark = pytest.mark.reliability
LIMITED, RATED = "limited", "rated"
KEYS, PER_KEY = 20, 2
CONCURRENCY, RAISED, LOWERED = 5, 8, 3
RATE, PERIOD = 12, 1.0
JOBS, RATED_JOBS = size(900, 4000), size(60, 300)
WORKERS, SLOTS, LEASE = 6, 8, 2.0
SAMPLE_EVERY = 0.015
# the fraction of the limited queue's jobs done when each step is taken
KILL_AT, RAISE_AT, KILL_AGAIN_AT, LOWER_AT = 0.1, 0.25, 0.45, 0.55

APP = """
import asyncio
import math

import jobq

worker = jobq.Worker(queues=["limited", "rated"], concurrency=8)


@worker.task("nap")
async def nap(job):
    await asyncio.sleep(job.payload["ms"] / 1000)
"""


@dataclass
class Sample:
    began: float  # the read's start and end: its snapshot is taken in between
    ended: float
    total: int
    top_key: int  # the most running jobs of one key
    since_change: int  # running jobs started after `change` had committed
    change: int  # the last change of the concurrency committed before the read began


@dataclass
class Change:
    """A concurrency set: asked for at `began`, committed by `done` (inf: not yet)."""

    value: int
    began: float
    done: float = math.inf


@dataclass
class Limits:
    url: str
    changes: list[Change] = field(default_factory=list)

    def set(self, queue: str, limits: QueueLimits) -> None:
        change = Change(limits.concurrency or 0, time.time())
        if queue == LIMITED:
            self.changes.append(change)
        asyncio.run(configure(self.url, queue, limits))
        change.done = time.time()

    def last_done(self, at: float) -> int:
        """The index of the last change committed by `at`."""
        return max(i for i, c in enumerate(self.changes) if c.done < at)


async def configure(url: str, queue: str, limits: QueueLimits) -> None:
    store = open_store(url)
    await store.open()
    try:
        await store.configure_queue(queue, QueueChange(limits=limits), time.time())
    finally:
        await store.close()


RUNNING_SQL = (
    "SELECT concurrency_key, count(*), {since} FROM jobs WHERE queue = '" + LIMITED + "' "
    "AND state = 'running' GROUP BY concurrency_key"
)


class Sampler(threading.Thread):
    """Reads the running jobs every SAMPLE_EVERY seconds until stopped."""

    def __init__(self, url: str, limits: Limits) -> None:
        super().__init__(daemon=True)
        self.url, self.limits = url, limits
        self.samples: list[Sample] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            if self.url.startswith("sqlite"):
                self._sqlite()
            else:
                asyncio.run(self._postgres())
        except BaseException as exc:  # shown by the test, not lost in the thread
            self.error = exc

    def _take(self, read: Callable[[float], list[Any]]) -> None:
        began = time.time()
        change = self.limits.last_done(began)
        rows = read(self.limits.changes[change].done)
        self.samples.append(Sample(began, time.time(), sum(r[1] for r in rows),
                                   max((r[1] for r in rows), default=0),
                                   sum(int(r[2] or 0) for r in rows), change))  # fmt: skip

    def _sqlite(self) -> None:
        conn = sqlite3.connect(self.url.removeprefix("sqlite:///"), timeout=30)
        sql = RUNNING_SQL.format(since="sum(started_at > ?)")
        try:
            while not self.stop.wait(SAMPLE_EVERY):
                self._take(lambda since: conn.execute(sql, (since,)).fetchall())
        finally:
            conn.close()

    async def _postgres(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.url)
        sql = RUNNING_SQL.format(since="count(*) FILTER (WHERE started_at > $1)")
        loop = asyncio.get_running_loop()

        def read(since: float) -> list[Any]:  # the event loop is this thread's alone
            rows = asyncio.run_coroutine_threadsafe(conn.fetch(sql, since), loop)
            return [tuple(r) for r in rows.result()]

        try:
            while not self.stop.is_set():
                await asyncio.sleep(SAMPLE_EVERY)
                await loop.run_in_executor(None, self._take, read)
        finally:
            await conn.close()


class Run:
    """The servers, the workers and their kills, for one database."""

    def __init__(self, url: str, nodes: int, tmp_path: Path) -> None:
        self.url, self.tmp_path = url, tmp_path
        self.servers = [Server(url) for _ in range(nodes)]
        self.workers: dict[str, WorkerProcess] = {}
        self.kills = 0
        (tmp_path / "flowtasks.py").write_text(APP)

    def start_worker(self) -> None:
        n = len(self.workers)
        name = f"worker-{n}"
        args = ("--app", "flowtasks:worker", "--concurrency", str(SLOTS), "--lease", str(LEASE),
                "--name", name, "--log-level", "warning")  # fmt: skip
        server = self.servers[n % len(self.servers)]
        self.workers[name] = WorkerProcess(server, self.tmp_path / f"{name}.log", args,
                                           self.tmp_path)  # fmt: skip

    def kill_busy(self, how_many: int) -> None:
        """kill -9 workers that hold jobs, and start as many new ones."""
        held = running_by_worker(self.servers[0].api)
        busy = [n for n, w in self.workers.items() if held.get(n) and w.proc.poll() is None]
        for name in random.sample(busy, min(how_many, len(busy))):
            self.workers[name].stop()
            self.kills += 1
            self.start_worker()

    def enqueue(self, queue: str, total: int, keyed: bool) -> None:
        with httpx.Client(timeout=60) as client:
            for n, start in enumerate(range(0, total, 300)):
                jobs = [{"queue": queue, "type": "nap", "payload": {"ms": random.randint(20, 50)},
                         "max_attempts": 50,
                         "concurrency_key": f"key-{i % KEYS}" if keyed else None}
                        for i in range(start, min(total, start + 300))]  # fmt: skip
                api = self.servers[n % len(self.servers)].api
                response = client.post(f"{api}/jobs", json={"jobs": jobs})
                assert response.status_code == 201, response.text

    def done(self, queue: str) -> dict[str, int]:
        queues = httpx.get(f"{self.servers[-1].api}/queues", timeout=30).json()["queues"]
        return next((q["counts"] for q in queues if q["name"] == queue), {})

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.stop()
        for server in self.servers:
            server.stop()


def drive(run: Run, limits: Limits) -> None:
    """Take each step as the work gets there, until every job has succeeded."""
    steps: list[tuple[float, Callable[[], None]]] = [
        (KILL_AT, lambda: run.kill_busy(2)),
        (RAISE_AT, lambda: limits.set(LIMITED, QueueLimits(concurrency=RAISED, per_key=PER_KEY))),
        (KILL_AGAIN_AT, lambda: run.kill_busy(2)),
        (LOWER_AT, lambda: limits.set(LIMITED, QueueLimits(concurrency=LOWERED, per_key=PER_KEY))),
    ]
    give_up = time.monotonic() + 180
    while time.monotonic() < give_up:
        done = run.done(LIMITED).get("succeeded", 0)
        while steps and done >= steps[0][0] * JOBS:
            steps.pop(0)[1]()
        if not steps and done == JOBS and run.done(RATED).get("succeeded", 0) == RATED_JOBS:
            return
        time.sleep(0.1)
    raise AssertionError(f"not every job succeeded: {run.done(LIMITED)}, {run.done(RATED)}")


def rated_starts(url: str) -> list[float]:
    """The start of every attempt of the rate-limited queue's jobs, in order."""
    sql = (
        "SELECT a.started_at FROM attempts AS a JOIN jobs AS j ON j.id = a.job_id "
        f"WHERE j.queue = '{RATED}' ORDER BY a.started_at"
    )
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            return [r[0] for r in conn.execute(sql)]
        finally:
            conn.close()

    async def read() -> list[float]:
        import asyncpg

        conn = await asyncpg.connect(url)
        try:
            return [r[0] for r in await conn.fetch(sql)]
        finally:
            await conn.close()

    return asyncio.run(read())


def busiest_window(starts: list[float], period: float) -> list[float]:
    """The most starts within any `period` seconds, as the store counts them (a start at x
    counts for a claim at t when x > t - period), as the first such window holds them."""
    most, first = (0, 0), 0
    for last, at in enumerate(starts):
        while at - starts[first] >= period:
            first += 1
        most = max(most, (first, last + 1), key=lambda w: w[1] - w[0])
    return starts[most[0] : most[1]]


def check(samples: list[Sample], changes: list[Change]) -> dict[str, Any]:
    """Assert each sample within the limits; the figures of the run. A change asked for
    before a read ended may have committed before its snapshot: its value counts as a bound
    of all the running jobs; the jobs started after a change committed are bound by it and
    the later ones."""
    assert len(samples) > 100, f"only {len(samples)} samples"
    for s in samples:
        assert s.top_key <= PER_KEY, s
        seen = [c.value for c in changes if c.began < s.ended]
        assert s.total <= max(seen), (s, changes)
        assert s.since_change <= max(seen[s.change :]), (s, changes)
    raised = [s.total for s in samples if s.change == 1]
    assert raised and max(raised) > CONCURRENCY, "the raised limit was never used"
    lowered = changes[2].done
    settled = next((s.began for s in samples if s.change == 2 and s.total <= LOWERED), None)
    return {
        "samples": len(samples),
        "max_running": max(s.total for s in samples),
        "max_running_per_key": max(s.top_key for s in samples),
        "max_running_raised": max(raised),
        "max_started_after_lowering": max(s.since_change for s in samples if s.change == 2),
        "seconds_until_lowered_limit_met": round(settled - lowered, 3) if settled else None,
    }


def flow(url: str, nodes: int, tmp_path: Path, section: str) -> None:
    run = Run(url, nodes, tmp_path)
    limits = Limits(url)
    sampler = Sampler(url, limits)
    try:
        for server in run.servers:
            server.start(timeout=60)
        limits.set(LIMITED, QueueLimits(concurrency=CONCURRENCY, per_key=PER_KEY))
        limits.set(RATED, QueueLimits(rate=RATE, rate_period=PERIOD))
        run.enqueue(LIMITED, JOBS, keyed=True)
        run.enqueue(RATED, RATED_JOBS, keyed=False)
        sampler.start()
        for _ in range(WORKERS):
            run.start_worker()
        started = time.monotonic()
        drive(run, limits)
        elapsed = time.monotonic() - started
    finally:
        sampler.stop.set()
        sampler.join(30)
        run.stop()
    assert sampler.error is None, sampler.error
    figures = check(sampler.samples, limits.changes)
    starts = rated_starts(url)
    window = busiest_window(starts, PERIOD)
    busiest = len(window)
    record(section, nodes=nodes, workers=WORKERS, slots=SLOTS, jobs=JOBS, kills=run.kills,
           seconds=round(elapsed, 1), rate=RATE, period=PERIOD, rated_starts=len(starts),
           busiest_window=busiest, **figures)  # fmt: skip
    assert run.kills >= 2, "no worker was killed while holding a job"
    assert len(starts) >= RATED_JOBS, len(starts)
    assert busiest <= RATE, [round(at - window[0], 4) for at in window]


def test_limits_hold_on_three_nodes_sharing_postgres(pg_url: str, tmp_path: Path) -> None:
    flow(pg_url, 3, tmp_path, "flow_limits_postgres")


def test_limits_hold_on_one_sqlite_server(tmp_path: Path) -> None:
    flow(f"sqlite:///{tmp_path / 'flow.db'}", 1, tmp_path, "flow_limits_sqlite")
