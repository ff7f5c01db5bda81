"""The benchmark harness on a tiny workload (SQLite only, no other queues), so it cannot rot.
It asserts that every scenario produced figures, never how fast they are."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.acceptance
def test_bench_harness_runs_every_scenario(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "bench", "--scale", "smoke", "--stores", "sqlite",
           "--skip-others", "--no-charts", "--out", str(tmp_path)]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["machine"]["cores"] >= 1 and data["machine"]["commit"]
    scenarios = {f["scenario"] for f in data["figures"]}
    assert scenarios == {"enqueue", "end to end", "pick-up", "backlog", "memory"}
    assert all(f["median"] > 0 for f in data["figures"]), data["figures"]
    text = (tmp_path / "results.md").read_text()
    assert "| enqueue | sqlite | 100 jobs/request |" in text
    assert "| enqueue | sqlite | 100 jobs/request, minimal answers |" in text
    assert "Targets:" in text


@pytest.mark.acceptance
def test_ab_runs_two_versions_in_alternating_blocks() -> None:
    """`python -m bench.ab`: a worktree of one revision beside the working tree, each with its
    own server; both measured, with the CPU each pick-up cost; the worktree removed after."""
    cmd = [sys.executable, "-m", "bench.ab", "HEAD", ".", "--scenario", "pickup",
           "--store", "sqlite", "--blocks", "2", "--size", "3"]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("pickup on sqlite, 2 blocks")
    assert lines[1].startswith("  A HEAD: ") and "n=6)" in lines[1]
    assert lines[2].startswith("  B .: ") and "n=6)" in lines[2]
    assert float(lines[3].rpartition(": ")[2]) > 0
    assert lines[4].startswith("  CPU per job (us, median of blocks)")
    for line, name in ((lines[5], "A"), (lines[6], "B")):  # loop, threads, workers
        loop, threads, workers = (float(v.replace(",", "")) for v in line[5:].split(", "))
        assert line.startswith(f"  {name}: ") and loop > 0 and threads >= 0 and workers >= 0
    listed = subprocess.run(["git", "-C", str(ROOT), "worktree", "list"], capture_output=True,
                            text=True, check=True).stdout  # fmt: skip
    assert "jobq-ab-" not in listed
