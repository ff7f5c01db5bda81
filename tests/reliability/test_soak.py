"""A steady mixed load (enqueue, claim, complete) for a while: memory and latency stay flat.

`make reliability` runs it for 10 minutes, `make test` for 20 seconds. Figures of the first
and the last tenth of the run are printed (RSS of the server, p50/p99 of enqueue and claim);
memory growth is bounded, latency is reported, not asserted (no timed assertions).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server
from tests.reliability.figures import percentile, record, rss_kib, size
from tests.reliability.load import Ledger, Load, list_jobs, lost, overlapping_holds

pytestmark = pytest.mark.reliability
DURATION = size(20, 600)
MEMORY_GROWTH_LIMIT_KIB = 100 * 1024


def window(ledger: Ledger, pid: int) -> dict[str, Any]:
    """RSS now, and p50/p99 (ms) of the latencies recorded since the last window."""
    with ledger.lock:
        figures = {
            f"{kind}_{name}_ms": round(1000 * percentile(ledger.latencies[kind], q), 1)
            for kind in ("enqueue", "claim")
            for name, q in (("p50", 0.5), ("p99", 0.99))
        }
        figures["requests"] = sum(len(v) for v in ledger.latencies.values())
        ledger.latencies.clear()
    return {"rss_kib": rss_kib(pid), **figures}


def test_a_steady_mixed_load_keeps_memory_and_latency_flat(tmp_path: Path):
    server = Server(f"sqlite:///{tmp_path / 'soak.db'}").start(timeout=60)
    assert server.proc is not None
    ledger = Ledger()
    tenth = DURATION / 10
    try:
        load = Load(lambda: server.api, ledger, producers=2, consumers=2, pause=0.05)
        time.sleep(tenth)
        start = window(ledger, server.proc.pid)
        time.sleep(DURATION - 2 * tenth)
        window(ledger, server.proc.pid)  # the middle, not reported
        time.sleep(tenth)
        end = window(ledger, server.proc.pid)
        load.stop()
        jobs = list_jobs(server.api)
    finally:
        server.stop()
    missing, undone = lost(ledger, jobs)
    record("soak", seconds=DURATION, start=start, end=end,
           enqueues_acknowledged=len(ledger.enqueued), completions=len(ledger.completed),
           jobs_lost=len(missing) + len(undone), double_holds=len(overlapping_holds(ledger)),
           status_500=ledger.statuses.get(500, 0))  # fmt: skip
    assert start["requests"] > 0 and end["requests"] > 0
    assert end["rss_kib"] - start["rss_kib"] < MEMORY_GROWTH_LIMIT_KIB
    assert not missing and not undone and ledger.statuses.get(500, 0) == 0
