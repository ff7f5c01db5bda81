"""The bench's order of rounds: each other queue's round runs right after jobq's end-to-end
rounds on the store it is compared with, so a target's ratio divides figures measured a
minute apart (the machine's speed drifts by a fifth within a run)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
from bench import __main__ as bench_main


def test_the_other_queues_run_between_the_rounds_they_are_compared_with(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[str] = []

    def jobq_round(server: Any, n: int, processes: int, concurrency: int, batch: int,
                   queue: str, log: Path) -> float:  # fmt: skip
        calls.append(f"jobq {server} {concurrency} slots batch {batch}")
        return 100.0

    def other(name: str) -> Any:
        def run(n: int, workers: int, log: Path) -> float:
            calls.append(name)
            return 10.0

        return run

    fakes = {name: (store, lambda: None, other(name))
             for name, (store, _, _) in bench_main.OTHERS.items()}  # fmt: skip
    monkeypatch.setattr(bench_main.jr, "end_to_end", jobq_round)
    monkeypatch.setattr(bench_main, "OTHERS", fakes)
    args = argparse.Namespace(scale="quick", backlog=None, out=str(tmp_path), skip_others=False)
    bench = bench_main.Bench(args)
    bench.end_to_end("sqlite-server", "sqlite")  # type: ignore[arg-type]
    bench.others()  # the PostgreSQL store was not benchmarked: procrastinate runs at the end
    sqlite_round = [f"jobq sqlite-server {bench_main.jr.SLOTS} slots batch 1",
                    "jobq sqlite-server 4 slots batch 1", "jobq sqlite-server 100 slots batch 100",
                    "celery", "rq"]  # fmt: skip
    assert calls == sqlite_round * 3 + ["procrastinate"] * 3
    medians = {f.name: f.rounds for f in bench.figures if f.scenario == "others"}
    assert medians == {"celery": [10.0] * 3, "rq": [10.0] * 3, "procrastinate": [10.0] * 3}
