"""kill -9 of `jobq serve` at random moments under enqueue, claim and complete load.

Every acknowledged enqueue must be there afterwards, every acknowledged completion kept, and no
job may ever have been held by two workers at once (each claim's lease window is recorded).
"""

from __future__ import annotations

import random
import time

import pytest

from jobq.config import Config
from tests.conftest import Server
from tests.reliability.figures import record, size
from tests.reliability.inprocess import serve_in_thread
from tests.reliability.load import Ledger, Load, list_jobs, lost, overlapping_holds

pytestmark = pytest.mark.reliability
ROUNDS = size(3, 20)


def crash_rounds(db: str, ledger: Ledger) -> int:
    """Run the load against a fresh server on `db`, kill -9 it at a random moment, repeat."""
    crashes = 0
    for _ in range(ROUNDS):
        server = Server(db).start(timeout=60)
        load = Load(lambda s=server: s.api, ledger, producers=3, consumers=3)
        time.sleep(random.uniform(0.3, 2.0))
        server.kill()
        crashes += 1
        load.stop()
    return crashes


def check_after_crashes(db: str, ledger: Ledger, store: str) -> None:
    with serve_in_thread(Config(db=db)) as url:  # in-process: quicker to start than a third
        jobs = list_jobs(f"{url}/api/v1")
    missing, undone = lost(ledger, jobs)
    overlaps = overlapping_holds(ledger)
    reclaimed = sum(len(c) > 1 for c in ledger.claims.values())
    record(f"server_crash_{store}", crashes=ROUNDS, enqueues_acknowledged=len(ledger.enqueued),
           completions_acknowledged=len(ledger.completed),
           claims=sum(len(c) for c in ledger.claims.values()), jobs_reclaimed=reclaimed,
           jobs_lost=len(missing), completions_lost=len(undone),
           double_holds=len(overlaps))  # fmt: skip
    assert len(ledger.enqueued) >= 10 * ROUNDS and ledger.completed, "the load did not run"
    assert missing == set(), f"acknowledged enqueues lost: {sorted(missing)[:10]}"
    assert undone == set(), f"acknowledged completions lost: {sorted(undone)[:10]}"
    assert overlaps == [], overlaps[:10]


def test_kill_9_of_the_server_on_sqlite_loses_nothing_acknowledged(tmp_path):
    db = f"sqlite:///{tmp_path / 'crash.db'}"
    ledger = Ledger()
    crash_rounds(db, ledger)
    check_after_crashes(db, ledger, "sqlite")


def test_kill_9_of_the_server_on_postgres_loses_nothing_acknowledged(pg_url: str):
    ledger = Ledger()
    crash_rounds(pg_url, ledger)
    check_after_crashes(pg_url, ledger, "postgres")
