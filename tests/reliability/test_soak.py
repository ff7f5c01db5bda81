"""A steady mixed load (enqueue, claim, complete) for a while: memory and latency stay flat.

`make reliability` runs it for 10 minutes, `make test` for 10 seconds. Finished jobs are purged
RESULT_TTL seconds after they finish, so jobs leave the database as fast as they come and the
server is in a steady state (docs/design.md, "Soak"): any memory growth is then a leak, not the
database's working set. Figures of the first and the last tenth of the run are printed (RSS of
the server, size of the database, jobs kept, p50/p99 of enqueue and claim); memory growth is
bounded, latency is reported, not asserted (no timed assertions).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Server
from tests.reliability.figures import percentile, record, rss_kib, size
from tests.reliability.load import QUEUE, Ledger, Load, list_jobs, overlapping_holds

pytestmark = pytest.mark.reliability
DURATION = size(10, 600)
RESULT_TTL = 1.0  # seconds a finished job is kept: the database stays small and steady
# Measured growth from the first to the last tenth of a full run: 32 KiB (docs/design.md). 8 MiB
# is about a tenth of the server's RSS, and 40-70 bytes per job of a full run's jobs.
MEMORY_GROWTH_LIMIT_KIB = 8 * 1024


def database_kib(path: Path) -> int:
    """The database file and its write-ahead log, in KiB."""
    files = [path, path.with_name(path.name + "-wal")]
    return sum(f.stat().st_size for f in files if f.exists()) // 1024


def jobs_kept(api: str) -> int:
    queues = httpx.get(f"{api}/queues", timeout=30).json()["queues"]
    return sum(sum(q["counts"].values()) for q in queues)


def window(ledger: Ledger, server: Server, db: Path) -> dict[str, Any]:
    """RSS, database size and jobs kept now, and p50/p99 (ms) of the latencies recorded since
    the last window."""
    assert server.proc is not None
    with ledger.lock:
        figures = {
            f"{kind}_{name}_ms": round(1000 * percentile(ledger.latencies[kind], q), 1)
            for kind in ("enqueue", "claim")
            for name, q in (("p50", 0.5), ("p99", 0.99))
        }
        figures["requests"] = sum(len(v) for v in ledger.latencies.values())
        ledger.latencies.clear()
    return {"rss_kib": rss_kib(server.proc.pid), "db_kib": database_kib(db),
            "jobs_kept": jobs_kept(server.api), **figures}  # fmt: skip


def succeeded_count(server: Server) -> float:
    """The server's own count of jobs of QUEUE that succeeded (jobq_jobs_finished_total)."""
    text = httpx.get(f"{server.url}/metrics", timeout=30).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "jobq_jobs_finished_total" and sample.labels == {
                "queue": QUEUE, "state": "succeeded"}:  # fmt: skip
                return sample.value
    return 0.0


def unaccounted(ledger: Ledger, kept: dict[str, dict[str, Any]]) -> tuple[set[str], set[str]]:
    """(acknowledged enqueues neither completed nor kept, kept acknowledged completions that
    did not succeed). A completed job may be gone: purged after RESULT_TTL."""
    missing = ledger.enqueued - ledger.completed - kept.keys()
    undone = {i for i in ledger.completed & kept.keys() if kept[i]["state"] != "succeeded"}
    return missing, undone


@pytest.mark.timeout(DURATION + 180)  # the full run outlasts the suite's 300 s default
def test_a_steady_mixed_load_keeps_memory_and_latency_flat(tmp_path: Path):
    db = tmp_path / "soak.db"
    server = Server(f"sqlite:///{db}", "--result-ttl", str(RESULT_TTL)).start(timeout=60)
    ledger = Ledger()
    tenth = DURATION / 10
    try:
        load = Load(lambda: server.api, ledger, producers=2, consumers=2, pause=0.05)
        time.sleep(tenth)
        start = window(ledger, server, db)
        time.sleep(DURATION - 2 * tenth)
        window(ledger, server, db)  # the middle, not reported
        time.sleep(tenth)
        end = window(ledger, server, db)
        load.stop()
        kept = list_jobs(server.api)
        succeeded = succeeded_count(server)
    finally:
        server.stop()
    missing, undone = unaccounted(ledger, kept)
    holds = overlapping_holds(ledger)
    record("soak", seconds=DURATION, result_ttl_s=RESULT_TTL, start=start, end=end,
           enqueues_acknowledged=len(ledger.enqueued), completions=len(ledger.completed),
           succeeded_by_server_count=int(succeeded), jobs_lost=len(missing) + len(undone),
           double_holds=len(holds),
           status_500=ledger.statuses.get(500, 0))  # fmt: skip
    assert start["requests"] > 0 and end["requests"] > 0
    assert end["rss_kib"] - start["rss_kib"] < MEMORY_GROWTH_LIMIT_KIB
    assert not missing and not undone and ledger.statuses.get(500, 0) == 0
    # every acknowledged completion, purged or not, was counted as a success by the server
    assert succeeded >= len(ledger.completed) > 0
    assert not holds, holds[:10]
