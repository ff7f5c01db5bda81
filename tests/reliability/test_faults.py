"""Dependency faults under load: the SQLite file's disk fills up; PostgreSQL stops and starts.

While the fault lasts the server answers 503 (never a 500, never a false acknowledgement);
once it is gone the server recovers on its own; nothing is corrupted and nothing acknowledged
is lost.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server
from tests.reliability.figures import FULL, record, size
from tests.reliability.load import Ledger, Load, list_jobs, lost, overlapping_holds

pytestmark = pytest.mark.reliability


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs mounted for this test (root only), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.fail("the disk-full test mounts a tmpfs and must run as root")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path) -> int:
    """Write zeros to `path` until the disk is full; the bytes written. Unbuffered: a
    buffered file would try its unwritten rest again on close, and fail there."""
    written = 0
    with open(path, "wb", buffering=0) as f:
        try:
            while chunk := f.write(b"\0" * 65536):
                written += chunk
        except OSError:
            pass
    return written


def enqueue_until(api: str, status: int, ledger: Ledger, timeout: float = 120) -> dict[int, int]:
    """Enqueue batches until one is answered `status`; the statuses seen."""
    seen: dict[int, int] = {}
    give_up = time.monotonic() + timeout
    with httpx.Client(timeout=60) as http:
        while time.monotonic() < give_up:
            body = {"jobs": [{"queue": "reliability", "payload": "x" * 2000} for _ in range(10)]}
            r = http.post(f"{api}/jobs", json=body)
            seen[r.status_code] = seen.get(r.status_code, 0) + 1
            if r.status_code == 201:
                ledger.enqueued.update(j["id"] for j in r.json()["jobs"])
            if r.status_code == status:
                return seen
    raise AssertionError(f"no {status} within {timeout}s: {seen}")


def test_a_full_disk_gives_503s_then_recovers_with_nothing_lost(small_disk: Path):
    ledger = Ledger()
    db = small_disk / "jobq.db"
    ballast = small_disk / "ballast"
    server = Server(f"sqlite:///{db}").start(timeout=60)
    try:
        enqueue_until(server.api, 201, ledger)
        ballast_bytes = fill(ballast)
        full = enqueue_until(server.api, 503, ledger)
        r = httpx.post(f"{server.api}/jobs", json={"queue": "reliability"}, timeout=60)
        assert r.status_code == 503 and r.json()["error"]["code"], r.text
        assert httpx.get(f"{server.api}/jobs/{next(iter(ledger.enqueued))}").status_code == 200
        ballast.unlink()  # space again: no restart, no operator
        recovered = enqueue_until(server.api, 201, ledger)
        jobs = list_jobs(server.api)
    finally:
        server.stop()
    missing, _ = lost(ledger, jobs)
    with sqlite3.connect(db) as conn:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    record("fault_disk_full", ballast_bytes=ballast_bytes, statuses_while_full=full,
           statuses_after=recovered, enqueues_acknowledged=len(ledger.enqueued),
           jobs_lost=len(missing), integrity_check=integrity,
           status_500=full.get(500, 0))  # fmt: skip
    assert 500 not in full and 500 not in recovered
    assert missing == set() and integrity == "ok"


def cluster_name() -> str:
    return next(iter(sorted(os.listdir("/etc/postgresql"))))


def pg_ctl(action: str) -> None:
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", cluster_name(), "main", action]
    subprocess.run(command + (["-m", "fast"] if action == "stop" else []), check=True,
                   timeout=120)  # fmt: skip


@pytest.mark.skipif(not FULL, reason="stops the machine's PostgreSQL: full version only")
def test_postgres_stopped_and_started_under_load_loses_nothing(pg_url: str):
    ledger = Ledger()
    server = Server(pg_url).start(timeout=60)
    outage = size(3, 5)
    try:
        load = Load(lambda: server.api, ledger, producers=2, consumers=2)
        time.sleep(3)
        before = dict(ledger.statuses)
        pg_ctl("stop")
        try:
            time.sleep(outage)
        finally:
            pg_ctl("start")
        during = {k: v - before.get(k, 0) for k, v in ledger.statuses.items()}
        enqueued_at_restart = len(ledger.enqueued)
        give_up = time.monotonic() + 120
        while len(ledger.enqueued) <= enqueued_at_restart + 50 and time.monotonic() < give_up:
            time.sleep(0.5)
        load.stop()
        jobs = list_jobs(server.api)
    finally:
        server.stop()
    missing, undone = lost(ledger, jobs)
    overlaps = overlapping_holds(ledger)
    record("fault_postgres_restart", outage_s=outage, statuses_during=during,
           enqueues_acknowledged=len(ledger.enqueued), recovered=len(ledger.enqueued)
           > enqueued_at_restart + 50, jobs_lost=len(missing), completions_lost=len(undone),
           double_holds=len(overlaps), status_500=ledger.statuses.get(500, 0))  # fmt: skip
    assert len(ledger.enqueued) > enqueued_at_restart + 50, "no recovery after the restart"
    assert ledger.statuses.get(500, 0) == 0
    assert missing == set() and undone == set() and overlaps == []
