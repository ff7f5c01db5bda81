"""The jobq scenarios: enqueue, end to end through `jobq worker`, pick-up latency, backlog."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx
import orjson

from bench.cpu import processes_cpu
from bench.rawhttp import Connection
from bench.services import JobqServer, free_port, rss_mb, worker_env
from bench.services import processes as run_processes
from bench.stats import percentile

API = "/api/v1"
DONE_POLL = 0.25  # seconds between checks that an end-to-end run is done
# slots per worker with claims of 1: enough claims in flight that the server, not each
# request's round trip, is the limit (measured: 4 -> 1,050 jobs/s, 16 -> 1,500, 32 -> 1,720,
# 64 and 100 no more); the other queues get as many jobs in flight (Celery's prefetch)
SLOTS = 32


def _jobs(queue: str, n: int, job_type: str = "noop") -> list[dict[str, object]]:
    return [{"queue": queue, "type": job_type} for _ in range(n)]


async def _connections(server: JobqServer, n: int) -> list[Connection]:
    return [await Connection("127.0.0.1", server.port).open() for _ in range(n)]


# --- 1. enqueue ---


async def enqueue_rate(server: JobqServer, total: int, per_request: int, clients: int,
                       minimal: bool = False) -> float:  # fmt: skip
    """Jobs/s enqueued by `clients` concurrent connections, `per_request` jobs a request;
    `minimal`: asking for `Prefer: return=minimal` answers (ids, not whole documents)."""
    conns = await _connections(server, clients)
    requests = total // per_request
    body: object = (_jobs("enq", 1)[0] if per_request == 1
                    else {"jobs": _jobs("enq", per_request)})  # fmt: skip
    headers = {"Prefer": "return=minimal"} if minimal else None
    todo = iter(range(requests))

    async def client(conn: Connection) -> None:
        for _ in todo:
            status, text = await conn.request("POST", f"{API}/jobs", body, headers)
            if status != 201:
                raise RuntimeError(f"enqueue answered {status}: {text[:200]!r}")

    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in conns))
    elapsed = time.perf_counter() - started
    for c in conns:
        c.close()
    return requests * per_request / elapsed


# --- 2. end to end ---


def fill(http: httpx.Client, queue: str, n: int, job_type: str = "noop") -> None:
    """Enqueue `n` jobs through `http` (a client of the native API), 1,000 per request."""
    for start in range(0, n, 1000):
        batch = _jobs(queue, min(1000, n - start), job_type)
        http.post("/jobs", json={"jobs": batch}).raise_for_status()


def metric(scrape: httpx.Client, sample: str) -> float:
    """One sample of GET /metrics, e.g. 'jobq_claim_waiters' (cheap: counters are kept in
    memory; polling the per-queue counts instead would scan the jobs table each time).
    `scrape` is one client for the whole run: `httpx.get` makes a client, and with it an
    SSL context, per call, ~25 ms of CPU taken from the run measured."""
    text = scrape.get("/metrics").text
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rpartition(" ")[2])
    return 0.0


def claim_waiters(scrape: httpx.Client) -> float:
    return metric(scrape, "jobq_claim_waiters")


@contextmanager
def workers(url: str, queue: str, processes: int, concurrency: int, batch: int,
            log: Path) -> Iterator[list[subprocess.Popen[bytes]]]:  # fmt: skip
    cmd = [sys.executable, "-m", "jobq", "worker", "--app", "bench.noop:worker", "--url", url,
           "-q", queue, "--concurrency", str(concurrency), "--batch", str(batch),
           "--log-level", "warning", "--grace", "5"]  # fmt: skip
    with run_processes([cmd] * processes, log, worker_env()) as procs:
        yield procs


def end_to_end(server: JobqServer, n: int, processes: int, concurrency: int, batch: int,
               queue: str, log: Path, workers_cpu: list[float] | None = None) -> float:  # fmt: skip
    """Jobs/s: N no-op jobs waiting in a paused queue, workers idle, then resume until done;
    `workers_cpu` is given the seconds of CPU the workers spent from the resume to the end.

    Timed from the resume to the last job's own finished_at (same machine, same clock): the
    harness only checks every DONE_POLL seconds whether all are done, so its scrapes of
    /metrics (which count every queue's jobs) cost the server next to nothing."""
    with (
        httpx.Client(base_url=server.url + API, timeout=60) as http,
        httpx.Client(base_url=server.url, timeout=30) as scrape,
    ):
        http.post(f"/queues/{queue}/pause").raise_for_status()
        fill(http, queue, n)
        with workers(server.url, queue, processes, concurrency, batch, log) as procs:
            _wait_for(lambda: claim_waiters(scrape) >= processes, 60, "workers polling")
            idle = processes_cpu(p.pid for p in procs)
            started = time.time()
            http.post(f"/queues/{queue}/resume").raise_for_status()
            done = f'jobq_jobs_finished_total{{queue="{queue}",state="succeeded"}}'
            while metric(scrape, done) < n:
                if any(p.poll() is not None for p in procs):
                    raise RuntimeError(f"a jobq worker exited; see {log}")
                time.sleep(DONE_POLL)
            if workers_cpu is not None:
                workers_cpu.append(processes_cpu(p.pid for p in procs) - idle)
            return n / (last_finished(http, queue) - started)


def last_finished(http: httpx.Client, queue: str) -> float:
    """When the last job of `queue` finished (UNIX seconds)."""
    answer = http.get(
        "/jobs", params={"queue": queue, "state": "succeeded", "sort": "-finished_at", "limit": 1}
    )
    answer.raise_for_status()
    finished = answer.json()["jobs"][0]["finished_at"]
    return datetime.fromisoformat(finished.replace("Z", "+00:00")).timestamp()


def _wait_for(check: object, timeout: float, what: str) -> None:
    give_up = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > give_up:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


# --- 3. pick-up latency ---


async def _read_at(conn: Connection) -> tuple[bytes, float]:
    """The next answer on `conn`, and when it had been read whole."""
    _, text = await conn.response()
    return text, time.perf_counter()


async def pickup_latency(server: JobqServer, samples: int) -> list[float]:
    """Seconds from sending an enqueue to an idle long-polling claimer holding the job (read
    on its own, so that the producer's answer, which may come later, is not counted)."""
    worker, producer = await _connections(server, 2)
    claim = {"queues": ["pickup"], "max": 1, "wait": 30,
             "worker": {"name": "bench", "host": "bench", "pid": os.getpid()}}  # fmt: skip
    body = orjson.dumps(claim)
    out = []
    for _ in range(samples):
        assert worker.writer is not None
        worker.writer.write(
            f"POST {API}/claim HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await asyncio.sleep(0.02)  # the claim is parked on the server, waiting
        held = asyncio.ensure_future(_read_at(worker))
        started = time.perf_counter()
        await producer.request("POST", f"{API}/jobs", {"queue": "pickup", "type": "noop"})
        text, at = await held
        out.append(at - started)
        job = orjson.loads(text)["jobs"][0]
        done = {"token": job["lease_token"]}
        await producer.request("POST", f"{API}/jobs/{job['id']}/complete", done)
    worker.close()
    producer.close()
    return out


# --- 4. backlog and memory ---


async def claim_latency(server: JobqServer, queue: str, samples: int) -> list[float]:
    """Seconds per claim of one job (then completed, untimed) from `queue`."""
    [conn] = await _connections(server, 1)
    claim = {"queues": [queue], "max": 1,
             "worker": {"name": "bench", "host": "bench", "pid": os.getpid()}}  # fmt: skip
    out = []
    for _ in range(samples):
        started = time.perf_counter()
        status, text = await conn.request("POST", f"{API}/claim", claim)
        out.append(time.perf_counter() - started)
        if status != 200:
            raise RuntimeError(f"claim answered {status}: {text[:200]!r}")
        job = orjson.loads(text)["jobs"][0]
        await conn.request("POST", f"{API}/jobs/{job['id']}/complete",
                           {"token": job["lease_token"]})  # fmt: skip
    conn.close()
    return out


async def insert_backlog(db: str, queue: str, n: int) -> None:
    """n queued jobs written straight through the store (as the engine builds them)."""
    from jobq.engine import Engine, JobSpec
    from jobq.notify import Notifier
    from jobq.store import open_store

    store = open_store(db)
    await store.open()
    try:
        engine = Engine(store, Notifier())
        for start in range(0, n, 10_000):
            now = time.time()
            count = min(10_000, n - start)
            jobs = [engine.build(JobSpec(queue=queue, type="noop"), now) for _ in range(count)]
            await store.insert(jobs, now)
    finally:
        await store.close()


def server_rss(server: JobqServer) -> float:
    assert server.proc is not None
    return rss_mb(server.proc.pid)


__all__ = ["claim_latency", "end_to_end", "enqueue_rate", "free_port", "insert_backlog",
           "percentile", "pickup_latency", "server_rss"]  # fmt: skip
