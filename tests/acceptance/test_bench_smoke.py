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
    assert "Targets:" in text
