"""What flow limits cost (issue 30's targets: a claim at most 1.5x, throughput within 10%).

    .venv/bin/python -m bench.flow_limits [--store sqlite postgres] [--rounds 3]
        [--claims 40] [--e2e-jobs 10000] [--skip-e2e]

1. Claim cost, in process (engine and store, no HTTP): a queue of 10,000 queued jobs, each of
   its own concurrency key, with a per-key limit of 1 (keyed: the keys take turns), against
   the same backlog in a queue without limits. Claims of 1 and of 10, each claim's jobs
   completed after it (outside the time), the two queues in alternating blocks (A B B A ...)
   so both see the same spells of the machine. Median and p90 ms per claim, and the ratio.
2. End to end: a drain of N no-op jobs through one `jobq serve` and 2 `jobq worker`s (32
   slots, claims of up to 32), the queue with a concurrency limit far above what runs
   (10,000) against no limit, alternating rounds (bench/jobq_runs.end_to_end). Jobs/s.

Each store gets a fresh database (PostgreSQL: JOBQ_BENCH_POSTGRES, dropped at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench import jobq_runs as jr
from bench.services import JobqServer, create_pg_database, drop_pg_database, machine
from bench.stats import percentile
from jobq.engine import Defaults, Engine, JobSpec
from jobq.model import ClaimSpec, QueueChange, QueueLimits, Worker
from jobq.notify import Notifier
from jobq.store import open_store

BACKLOG = 10_000
KEYED, OPEN = "keyed", "open"
GENEROUS = 10_000  # the end-to-end run's concurrency limit: far above the 64 slots
WORKER = Worker("bench", "bench", 1)


@contextmanager
def database(store: str, tag: str) -> Iterator[str]:
    if store == "postgres":
        url = create_pg_database(tag)
        try:
            yield url
        finally:
            drop_pg_database(url)
        return
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{Path(tmp) / 'flow.db'}"


async def fill(engine: Engine, queue: str) -> None:
    for start in range(0, BACKLOG, 1000):
        await engine.enqueue(
            [JobSpec(queue=queue, concurrency_key=f"key-{i}") for i in range(start, start + 1000)]
        )


async def timed_claims(engine: Engine, queue: str, size: int, n: int) -> list[float]:
    """Milliseconds of each of `n` claims of `size`; their jobs completed after each."""
    spec = ClaimSpec([queue], None, size, None, WORKER)
    times = []
    for _ in range(n):
        started = time.perf_counter()
        jobs = await engine.claim(spec)
        times.append((time.perf_counter() - started) * 1000)
        assert len(jobs) == size, (queue, len(jobs))
        for job in jobs:
            await engine.complete(job.id, job.lease_token or "", None)
    return times


async def claim_cost(url: str, rounds: int, claims: int) -> dict[tuple[str, int], list[float]]:
    """(queue, claim size) -> ms of every claim, the queues in alternating blocks."""
    store = open_store(url)
    await store.open()
    engine = Engine(store, Notifier(), Defaults())
    found: dict[tuple[str, int], list[float]] = {}
    try:
        await engine.set_limits(KEYED, QueueLimits(per_key=1))
        for queue in (KEYED, OPEN):
            await fill(engine, queue)
        await engine.claim(ClaimSpec([OPEN], None, 1, None, WORKER))  # the worker recorded
        for size in (1, 10):
            for block in range(2 * rounds):
                order = (KEYED, OPEN) if block % 2 == 0 else (OPEN, KEYED)
                for queue in order:
                    ms = await timed_claims(engine, queue, size, claims)
                    found.setdefault((queue, size), []).extend(ms)
    finally:
        await store.close()
    return found


def end_to_end(url: str, rounds: int, jobs: int, logs: Path) -> dict[str, list[float]]:
    """'limited' and 'open' -> jobs/s of each round, the two alternating."""
    server = JobqServer(url).start(logs / "serve.log")
    found: dict[str, list[float]] = {"limited": [], "open": []}
    try:
        for n in range(rounds):
            for case in ("limited", "open") if n % 2 == 0 else ("open", "limited"):
                queue = f"{case}-{n}"
                if case == "limited":
                    asyncio.run(_limit(url, queue, QueueLimits(concurrency=GENEROUS)))
                    time.sleep(1.1)  # every node sees the queue as limited (REFRESH)
                rate = jr.end_to_end(server, jobs, 2, 32, 32, queue, logs / "workers.log")
                found[case].append(rate)
    finally:
        server.stop()
    return found


async def _limit(url: str, queue: str, limits: QueueLimits) -> None:
    store = open_store(url)
    await store.open()
    try:
        await store.configure_queue(queue, QueueChange(limits=limits), time.time())
    finally:
        await store.close()


def claim_table(store: str, found: dict[tuple[str, int], list[float]]) -> list[str]:
    lines = []
    for size in (1, 10):
        keyed, plain = found[(KEYED, size)], found[(OPEN, size)]
        k50, k90 = percentile(keyed, 50), percentile(keyed, 90)
        o50, o90 = percentile(plain, 50), percentile(plain, 90)
        lines.append(f"| {store} | claim of {size} | {o50:.2f} / {o90:.2f} | {k50:.2f} / "
                     f"{k90:.2f} | {k50 / o50:.2f}x / {k90 / o90:.2f}x |")  # fmt: skip
    return lines


def e2e_table(store: str, found: dict[str, list[float]]) -> list[str]:
    limited, plain = statistics.median(found["limited"]), statistics.median(found["open"])
    spread = "; ".join(f"{c} {min(r):,.0f}-{max(r):,.0f}" for c, r in found.items())
    return [f"| {store} | {plain:,.0f} | {limited:,.0f} | {limited / plain:.2f}x | {spread} |"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", nargs="+", choices=("sqlite", "postgres"),
                        default=["sqlite", "postgres"])  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--claims", type=int, default=40, help="claims per block")
    parser.add_argument("--e2e-jobs", type=int, default=10_000)
    parser.add_argument("--skip-e2e", action="store_true")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    claims = ["| store | claim | no limit: p50 / p90 ms | per_key=1, 10,000 keys: p50 / p90 ms "
              "| ratio p50 / p90 |", "|---|---|---|---|---|"]  # fmt: skip
    e2e = ["| store | no limit jobs/s | concurrency 10,000 jobs/s | ratio | rounds (min-max) |",
           "|---|---|---|---|---|"]  # fmt: skip
    for store in args.store:
        with database(store, "flowclaims") as url:
            claims += claim_table(store, asyncio.run(claim_cost(url, args.rounds, args.claims)))
        if not args.skip_e2e:
            with database(store, "flowe2e") as url, tempfile.TemporaryDirectory() as logs:
                e2e += e2e_table(store, end_to_end(url, args.rounds, args.e2e_jobs, Path(logs)))
    print("\n".join(claims))
    if not args.skip_e2e:
        print("\n" + "\n".join(e2e))
    print(f"load after: {machine()['load']}")


if __name__ == "__main__":
    main()
