"""`python -m bench.ab A B`: one scenario on two versions of jobq, measured in alternating blocks.

This machine's speed moves by a fifth within minutes and by half between hours, so two runs
of one version minutes apart can differ more than a change does. Here each version gets its
own `jobq serve` (and `jobq worker`s), started from a git worktree of its revision (`.`: the
working tree as it is), and the blocks alternate A B B A A B ...: both versions see the same
spells of the machine. Printed: each version's figure over all its blocks and B / A, and
the CPU each job (or pick-up) cost, median of the blocks: the server's event loop, its other
threads (the SQLite writer, the readers), the workers (`bench/cpu.py`; the server's figures
include the block's fill of the queue, the workers' only the drain: until session 13 they
included each worker's start, ~0.8 s of CPU, most of their figure in a block of 20,000).

  python -m bench.ab HEAD~1 . --scenario pickup --store postgres --blocks 8
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bench import jobq_runs as jr
from bench.cpu import Usage, usage
from bench.services import ROOT, JobqServer, create_pg_database, drop_pg_database
from bench.stats import percentile

# (server, size, tag, folder for logs, list given the workers' CPU seconds) -> figures
Measure = Callable[[JobqServer, int, str, Path, list[float]], list[float]]


def pickup(server: JobqServer, size: int, tag: str, logs: Path, cpu: list[float]) -> list[float]:
    """Milliseconds from an enqueue to an idle long-polling worker holding the job."""
    return [s * 1000 for s in asyncio.run(jr.pickup_latency(server, size))]


def batches(server: JobqServer, size: int, tag: str, logs: Path, cpu: list[float]) -> list[float]:
    """Jobs/s through `jobq worker`s (one per core), claims and acknowledgements of 100."""
    cores = os.cpu_count() or 1
    return [jr.end_to_end(server, size, cores, 100, 100, tag, logs / "workers.log", cpu)]


def claims(server: JobqServer, size: int, tag: str, logs: Path, cpu: list[float]) -> list[float]:
    """Jobs/s through `jobq worker`s (one per core), claims of 1, the bench's slots."""
    cores = os.cpu_count() or 1
    return [jr.end_to_end(server, size, cores, jr.SLOTS, 1, tag, logs / "workers.log", cpu)]


def enqueue(server: JobqServer, size: int, tag: str, logs: Path, cpu: list[float]) -> list[float]:
    """Jobs/s enqueued 100 per request by 8 connections."""
    return [asyncio.run(jr.enqueue_rate(server, size, 100, 8))]


def minimal(server: JobqServer, size: int, tag: str, logs: Path, cpu: list[float]) -> list[float]:
    """Jobs/s enqueued 100 per request by 8 connections, answered minimally (ids)."""
    return [asyncio.run(jr.enqueue_rate(server, size, 100, 8, minimal=True))]


# name: (measure, default size per block, what to report: the median or the p50 of samples)
SCENARIOS: dict[str, tuple[Measure, int, str]] = {
    "pickup": (pickup, 60, "ms, median of all pick-ups"),
    "batches": (batches, 20_000, "jobs/s, median of blocks"),
    "claims": (claims, 5_000, "jobs/s, median of blocks"),
    "enqueue": (enqueue, 50_000, "jobs/s, median of blocks"),
    "minimal": (minimal, 50_000, "jobs/s, median of blocks"),
}


@contextmanager
def checkout(rev: str, into: Path) -> Iterator[Path]:
    """The source folder of `rev` (`.`: this working tree's)."""
    if rev == ".":
        yield ROOT / "src"
        return
    git = ["git", "-C", str(ROOT)]
    subprocess.run([*git, "worktree", "add", "--detach", "-q", str(into), rev], check=True)
    try:
        yield into / "src"
    finally:
        subprocess.run([*git, "worktree", "remove", "--force", str(into)], check=True)


def database(store: str, folder: Path, name: str) -> str:
    if store == "postgres":
        return create_pg_database(f"ab_{name.lower()}")
    return f"sqlite:///{folder / f'{name}.db'}"


def use(src: Path) -> None:
    """Servers and workers started from now on run the jobq in `src` (the repository root
    stays importable for `bench.noop`)."""
    os.environ["PYTHONPATH"] = os.pathsep.join([str(src), str(ROOT)])


Figures = dict[str, list[float]]
Costs = dict[str, list[Usage]]


def run(args: argparse.Namespace) -> tuple[Figures, Costs]:
    measure, default_size, _ = SCENARIOS[args.scenario]
    size = args.size or default_size
    work = Path(tempfile.mkdtemp(prefix="jobq-ab-"))
    figures: Figures = {"A": [], "B": []}
    costs: Costs = {"A": [], "B": []}
    with checkout(args.a, work / "a") as src_a, checkout(args.b, work / "b") as src_b:
        sources = {"A": src_a, "B": src_b}
        servers: dict[str, JobqServer] = {}
        dbs = {name: database(args.store, work, name) for name in sources}
        try:
            for name, src in sources.items():
                use(src)
                servers[name] = JobqServer(dbs[name]).start(work / f"serve-{name}.log")
            for block in range(args.blocks):
                order = ("A", "B") if block % 2 == 0 else ("B", "A")
                for name in order:
                    use(sources[name])
                    server = servers[name]
                    assert server.proc is not None
                    before = usage(server.proc.pid)
                    workers: list[float] = []
                    figures[name] += measure(server, size, f"ab{block}", work, workers)
                    after = usage(server.proc.pid, sum(workers))
                    costs[name].append(after.per(before, size))
        finally:
            for server in servers.values():
                server.stop()
            if args.store == "postgres":
                for url in dbs.values():
                    drop_pg_database(url)
    return figures, costs


def report(args: argparse.Namespace, figures: Figures, costs: Costs) -> str:
    _, _, unit = SCENARIOS[args.scenario]
    lines = [f"{args.scenario} on {args.store}, {args.blocks} blocks ({unit}):"]
    middle = {}
    for name, rev in (("A", args.a), ("B", args.b)):
        values = figures[name]
        middle[name] = percentile(values, 50)
        low, high, p90 = min(values), max(values), percentile(values, 90)
        spread = f"p90 {p90:,.2f}, min {low:,.2f}, max {high:,.2f}"
        lines.append(f"  {name} {rev}: {middle[name]:,.2f}  ({spread}, n={len(values)})")
    lines.append(f"  B / A: {middle['B'] / middle['A']:.3f}")
    lines.append("  CPU per job (us, median of blocks): server loop, server threads, workers")
    for name in ("A", "B"):
        parts = [percentile([getattr(c, part) for c in costs[name]], 50)
                 for part in ("loop", "threads", "workers")]  # fmt: skip
        lines.append(f"  {name}: " + ", ".join(f"{p:,.1f}" for p in parts))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ab",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("a", help="a git revision, or . for the working tree")
    parser.add_argument("b", help="a git revision, or . for the working tree")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="pickup")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--blocks", type=int, default=8, help="blocks per version")
    parser.add_argument("--size", type=int, help="pick-ups or jobs per block")
    args = parser.parse_args()
    print(report(args, *run(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
