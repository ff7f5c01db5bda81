"""`python -m bench`: every scenario against both stores and the other queues; tables on
stdout, results.json, results.md and PNG charts in the output folder.

The other queues' rounds run between jobq's end-to-end rounds on the store each is compared
with (Celery and RQ beside SQLite, procrastinate beside PostgreSQL), so that every ratio of a
target divides figures measured a minute apart: this machine's speed drifts by a fifth
within a run."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from bench import jobq_runs as jr
from bench import others, report
from bench.services import (
    JobqServer,
    Missing,
    check_postgres,
    check_redis,
    create_pg_database,
    drop_pg_database,
    machine,
)
from bench.stats import Figure, percentile

SCALES = {
    "full": dict(rounds=3, single=20_000, clients=32, batched=200_000, e2e1=10_000,
                 e2e_batch=50_000, pickup=300, backlog=(1_000, 1_000_000), others=10_000),
    "quick": dict(rounds=3, single=3_000, clients=32, batched=50_000, e2e1=2_000,
                  e2e_batch=10_000, pickup=100, backlog=(1_000, 100_000), others=3_000),
    "smoke": dict(rounds=1, single=200, clients=4, batched=1_000, e2e1=100, e2e_batch=200,
                  pickup=10, backlog=(100, 1_000), others=100),
}  # fmt: skip


def _needs(package: str, service: Callable[[], None]) -> Callable[[], None]:
    """A check that `package` is installed and `service` answers (Missing if not)."""

    def check() -> None:
        if importlib.util.find_spec(package) is None:
            raise Missing(f"{package} is not installed (make bench installs the bench extra)")
        service()

    return check


# name: (what it runs on, the check that it can run here, the run); each runs beside a store
OTHERS = {"celery": ("redis", _needs("celery", check_redis), others.celery),
          "rq": ("redis", _needs("rq", check_redis), others.rq),
          "procrastinate": ("postgres", _needs("procrastinate", check_postgres),
                            others.procrastinate)}  # fmt: skip
BESIDE = {"sqlite": ("celery", "rq"), "postgres": ("procrastinate",)}
FEW_SLOTS = "claims of 1, 4 slots"  # the worker's default: each claim's round trip shows


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.scale = dict(SCALES[args.scale])
        if args.backlog:
            self.scale["backlog"] = (self.scale["backlog"][0], args.backlog)
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.logs = Path(tempfile.mkdtemp(prefix="jobq-bench-"))
        self.figures: list[Figure] = []
        self.cores = os.cpu_count() or 1
        self.tried: set[str] = set()  # the other queues already measured, or found missing

    def figure(self, scenario: str, store: str, name: str, unit: str) -> Figure:
        f = Figure(scenario, store, name, unit)
        self.figures.append(f)
        return f

    def rounds(self, fig: Figure, measure: Callable[[int], float]) -> None:
        for i in range(self.scale["rounds"]):
            self.measure(fig, measure(i))

    def measure(self, fig: Figure, value: float) -> None:
        fig.rounds.append(value)
        print(f"  {fig.scenario} {fig.store} {fig.name}: {value:,.1f} {fig.unit}", flush=True)

    # --- jobq, one store ---

    def database(self, store: str, tag: str) -> str:
        if store == "sqlite":
            return f"sqlite:///{self.logs / tag}.db"
        return create_pg_database(tag)

    def release(self, db: str) -> None:
        if db.startswith("postgresql"):
            drop_pg_database(db)

    def server(self, db: str) -> JobqServer:
        return JobqServer(db).start(self.logs / "serve.log")

    def jobq(self, store: str) -> None:
        s = self.scale
        db = self.database(store, "main")
        server = self.server(db)
        try:
            self.figure("memory", store, "RSS idle", "MB").rounds.append(jr.server_rss(server))
            single = self.figure("enqueue", store, "1 job/request", "jobs/s")
            self.rounds(single, lambda i: asyncio.run(
                jr.enqueue_rate(server, s["single"], 1, s["clients"])))  # fmt: skip
            batched = self.figure("enqueue", store, "100 jobs/request", "jobs/s")
            self.rounds(batched, lambda i: asyncio.run(
                jr.enqueue_rate(server, s["batched"], 100, 8)))  # fmt: skip
            minimal = self.figure("enqueue", store, "100 jobs/request, minimal answers", "jobs/s")
            self.rounds(minimal, lambda i: asyncio.run(
                jr.enqueue_rate(server, s["batched"], 100, 8, minimal=True)))  # fmt: skip
        finally:
            server.stop()
            self.release(db)
        db = self.database(store, "e2e")  # a fresh one: the enqueued jobs above stay behind
        server = self.server(db)
        try:
            self.end_to_end(server, store)
            self.pickup(server, store)
        finally:
            server.stop()
            self.release(db)
        self.backlog(store)

    def end_to_end(self, server: JobqServer, store: str) -> None:
        """jobq's rounds, each followed by a round of the other queues compared with `store`."""
        s, log = self.scale, self.logs / "workers.log"
        one = self.figure("end to end", store, "claims of 1", "jobs/s")
        few = self.figure("end to end", store, FEW_SLOTS, "jobs/s")
        many = self.figure("end to end", store, "batches of 100", "jobs/s")
        theirs = [] if self.args.skip_others else self.others_ready(BESIDE.get(store, ()))
        for i in range(s["rounds"]):
            self.measure(one, jr.end_to_end(
                server, s["e2e1"], self.cores, jr.SLOTS, 1, f"e2e1-{i}", log))  # fmt: skip
            self.measure(few, jr.end_to_end(
                server, s["e2e1"], self.cores, 4, 1, f"e2e4-{i}", log))  # fmt: skip
            self.measure(many, jr.end_to_end(
                server, s["e2e_batch"], self.cores, 100, 100, f"e2eb-{i}", log))  # fmt: skip
            for fig, run in theirs:
                self.measure(fig, run())

    def pickup(self, server: JobqServer, store: str) -> None:
        p50 = self.figure("pick-up", store, "p50", "ms")
        p99 = self.figure("pick-up", store, "p99", "ms")
        for _ in range(self.scale["rounds"]):
            samples = asyncio.run(jr.pickup_latency(server, self.scale["pickup"]))
            p50.rounds.append(percentile(samples, 50) * 1000)
            p99.rounds.append(percentile(samples, 99) * 1000)
            print(f"  pick-up {store}: p50 {p50.rounds[-1]:.2f} ms, p99 {p99.rounds[-1]:.2f} ms")

    def backlog(self, store: str) -> None:
        db = self.database(store, "backlog")
        have = 0
        try:
            for size in self.scale["backlog"]:
                asyncio.run(jr.insert_backlog(db, "backlog", size - have))
                have = size
                server = self.server(db)
                try:
                    fig = self.figure("backlog", store, f"claim, {size:,} waiting", "ms")
                    samples = min(200, size // 4)
                    self.rounds(fig, lambda i, s=server, k=samples: 1000 * percentile(
                        asyncio.run(jr.claim_latency(s, "backlog", k)), 50))  # fmt: skip
                    rss = self.figure("memory", store, f"RSS, {size:,} waiting", "MB")
                    rss.rounds.append(jr.server_rss(server))
                finally:
                    server.stop()
        finally:
            self.release(db)

    # --- the others ---

    def others_ready(self, names: Sequence[str]) -> list[tuple[Figure, Callable[[], float]]]:
        """A figure and a round for each of `names` not tried yet that can run here (those
        that cannot are said to be skipped)."""
        n, log = self.scale["others"], self.logs / "others.log"
        ready = []
        for name in names:
            store, check, run = OTHERS[name]
            if name in self.tried:
                continue
            self.tried.add(name)
            try:
                check()
            except Missing as exc:
                print(f"SKIPPED {name}: {exc}", file=sys.stderr)
                continue
            fig = self.figure("others", store, name, "jobs/s")
            ready.append((fig, lambda run=run: float(run(n, self.cores, log))))
        return ready

    def others(self) -> None:
        """The other queues not measured beside a store (that store was not benchmarked)."""
        for fig, run in self.others_ready(list(OTHERS)):
            self.rounds(fig, lambda i, run=run: run())

    def earlier(self) -> list[dict[str, object]]:
        """The figures of the last run in the output folder that this run did not measure."""
        path = self.out / "results.json"
        if not path.exists():
            return []
        now = {(f.scenario, f.store, f.name) for f in self.figures}
        old: list[dict[str, object]] = json.loads(path.read_text())["figures"]
        return [f for f in old if (f["scenario"], f["store"], f["name"]) not in now]

    def run(self) -> int:
        info = machine()
        print(f"jobq bench ({self.args.scale}): {info['cores']} cores, commit {info['commit']}, "
              f"load {info['load']}, logs in {self.logs}", flush=True)  # fmt: skip
        for store in self.args.stores.split(","):
            try:
                if store == "postgres":
                    check_postgres()
                self.jobq(store)
            except Missing as exc:
                print(f"SKIPPED jobq on {store}: {exc}", file=sys.stderr)
        if not self.args.skip_others:
            self.others()
        info["load_after"] = os.getloadavg()
        earlier = self.earlier() if self.args.append else []
        data = {"machine": info, "scale": self.args.scale, "backlog_sizes": self.scale["backlog"],
                "figures": earlier + [f.as_dict() for f in self.figures if f.rounds]}  # fmt: skip
        if earlier:
            data["machine_earlier"] = json.loads((self.out / "results.json").read_text())["machine"]
        (self.out / "results.json").write_text(json.dumps(data, indent=2))
        text = report.markdown(data)
        (self.out / "results.md").write_text(text)
        print(text)
        if not self.args.no_charts:
            report.charts(data, self.out)
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--skip-others", action="store_true", help="no Celery, RQ, procrastinate")
    parser.add_argument("--no-charts", action="store_true")
    parser.add_argument(
        "--append",
        action="store_true",
        help="keep the figures of the last run that this one does not measure",
    )
    parser.add_argument("--backlog", type=int, help="the big backlog (default by scale)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    return Bench(parser.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
