"""The same end-to-end workload on Celery + Redis, RQ (SimpleWorker) + Redis and
procrastinate + PostgreSQL.

Each is measured as jobq is: N no-op jobs wait, then the workers (the same number of
processes) drain them; the clock runs from the first job taken to the queue being empty
(for Celery and RQ a handful of prefetched jobs may still be running then: milliseconds).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench.jobq_runs import SLOTS
from bench.services import (
    REDIS_URL,
    create_pg_database,
    drop_pg_database,
    processes,
    worker_env,
)


def drain(waiting: Callable[[], int], n: int, procs: list[subprocess.Popen[bytes]],
          log: Path, timeout: float = 600) -> float:  # fmt: skip
    """Jobs/s from the first job taken to none waiting."""
    give_up = time.monotonic() + timeout
    while waiting() >= n:
        _check(procs, log, give_up)
        time.sleep(0.005)
    started = time.perf_counter()
    while waiting() > 0:
        _check(procs, log, give_up)
        time.sleep(0.01)
    return n / (time.perf_counter() - started)


def _check(procs: list[subprocess.Popen[bytes]], log: Path, give_up: float) -> None:
    if time.monotonic() > give_up:
        raise RuntimeError(f"timed out; see {log}")
    if any(p.poll() not in (None, 0) for p in procs):
        raise RuntimeError(f"a worker exited; see {log}")


def celery(n: int, workers: int, log: Path) -> float:
    import redis

    from bench.celery_tasks import noop

    r = redis.Redis.from_url(REDIS_URL)
    r.delete("bench_celery")
    for _ in range(n):
        noop.apply_async()
    cmd = [sys.executable, "-m", "celery", "-A", "bench.celery_tasks", "worker", "-c",
           str(workers), "-P", "prefork", "--loglevel", "WARNING", "--without-gossip",
           "--without-mingle", "--without-heartbeat", "-Q", "bench_celery"]  # fmt: skip
    # as many jobs reserved as jobq's workers hold slots: its children's prefetch (default 4)
    env = {**worker_env(), "JOBQ_BENCH_PREFETCH": str(SLOTS)}
    with processes([cmd], log, env) as procs:
        return drain(lambda: int(r.llen("bench_celery")), n, procs, log)


def rq(n: int, workers: int, log: Path) -> float:
    import redis
    from rq import Queue

    from bench.rq_tasks import noop

    r = redis.Redis.from_url(REDIS_URL)
    queue = Queue("bench_rq", connection=r)
    queue.empty()
    for start in range(0, n, 1000):
        jobs = [Queue.prepare_data(noop) for _ in range(min(1000, n - start))]
        queue.enqueue_many(jobs)
    cmd = [sys.executable, "-m", "rq.cli", "worker", "--burst", "-w", "rq.worker.SimpleWorker",
           "--url", REDIS_URL, "--logging_level", "WARNING", "bench_rq"]  # fmt: skip
    with processes([cmd] * workers, log, worker_env()) as procs:
        return drain(lambda: int(queue.count), n, procs, log)


def procrastinate(n: int, workers: int, log: Path) -> float:
    import psycopg

    dsn = create_pg_database("procrastinate")
    env = {**worker_env(), "PROCRASTINATE_DSN": dsn}
    try:
        import procrastinate as pc

        from bench import procrastinate_tasks as tasks

        app = tasks.app.with_connector(pc.PsycopgConnector(conninfo=dsn))
        with app.open():
            app.schema_manager.apply_schema()
            deferrer = pc.tasks.configure_task(name="noop", job_manager=app.job_manager,
                                               queue="bench")  # fmt: skip
            for start in range(0, n, 1000):
                deferrer.batch_defer(*[{} for _ in range(min(1000, n - start))])
        cmd = [sys.executable, "-m", "procrastinate", "--app", "bench.procrastinate_tasks.app",
               "worker", "-q", "bench", "-c", str(SLOTS)]  # fmt: skip
        with psycopg.connect(dsn, autocommit=True) as conn:

            def waiting() -> int:
                row = conn.execute("SELECT count(*) FROM procrastinate_jobs "
                                   "WHERE status IN ('todo', 'doing')").fetchone()  # fmt: skip
                return int(row[0]) if row else 0

            with processes([cmd] * workers, log, env) as procs:
                return drain(waiting, n, procs, log)
    finally:
        drop_pg_database(dsn)
