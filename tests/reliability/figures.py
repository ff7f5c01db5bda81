"""Shared by the reliability tests: the size knob, the results file and process figures.

JOBQ_RELIABILITY=full (set by `make reliability`) runs every test at full size; anything else
runs the short version that `make test` includes. Each test records its figures with
`record(...)`; they go to JOBQ_RELIABILITY_RESULTS (reliability/results.json under `make
reliability`, a temporary file otherwise) and `python -m tests.reliability.report` turns that
file into reliability/RESULTS.md.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, TypeVar

FULL = os.environ.get("JOBQ_RELIABILITY", "").lower() == "full"
RESULTS = Path(
    os.environ.get("JOBQ_RELIABILITY_RESULTS")
    or Path(tempfile.gettempdir()) / f"jobq-reliability-{os.getpid()}.json"
)


N = TypeVar("N", int, float)


def size(short: N, full: N) -> N:
    """The short figure by default, the full one under JOBQ_RELIABILITY=full."""
    return full if FULL else short


def record(section: str, **figures: Any) -> None:
    """Print a test's figures and merge them into the results file under `section`."""
    print(f"[{section}] " + ", ".join(f"{k}={v}" for k, v in figures.items()))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with open(RESULTS.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        data[section] = {**figures, "mode": "full" if FULL else "short", "recorded_at": at}
        RESULTS.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def rss_kib(pid: int) -> int:
    """The resident set size of a process, in KiB (VmRSS of /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
