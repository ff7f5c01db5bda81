"""How many claims a real idle `jobq worker` keeps in flight (how many while work flows:
tests/unit/test_worker_claims.py)."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from jobq.worker.runner import MAX_CLAIMS, MIN_CLAIMS, claims_in_flight
from tests.acceptance.conftest import WorkerProcess, wait_until
from tests.conftest import Server

pytestmark = pytest.mark.acceptance


def claim_waiters(server: Server) -> int:
    for line in httpx.get(f"{server.url}/metrics", timeout=30).text.splitlines():
        if line.startswith("jobq_claim_waiters "):
            return int(float(line.rpartition(" ")[2]))
    raise AssertionError("no jobq_claim_waiters in /metrics")


@pytest.mark.parametrize(("concurrency", "batch", "expected"),
                         [("12", "1", MIN_CLAIMS), ("12", "12", 1), ("2", "1", 2)])  # fmt: skip
def test_an_idle_worker_long_polls_with_a_few_claims_at_most_one_per_slot(
    server: Server, start_worker: Callable[..., WorkerProcess],
    concurrency: str, batch: str, expected: int,
) -> None:  # fmt: skip
    start_worker("--concurrency", concurrency, "--batch", batch)
    wait_until(lambda: claim_waiters(server) == expected, what=f"{expected} claims waiting")
    time.sleep(0.5)  # and no more come
    assert claim_waiters(server) == expected


def test_claims_in_flight_fill_the_slots_within_bounds() -> None:
    assert claims_in_flight(4, 1) == 4
    assert claims_in_flight(32, 1) == 32
    assert claims_in_flight(100, 10) == 10
    assert claims_in_flight(100, 100) == MIN_CLAIMS  # partial refills may still overlap
    assert claims_in_flight(1000, 1) == MAX_CLAIMS
    assert claims_in_flight(5, 2) == MIN_CLAIMS
    assert claims_in_flight(9, 2) == 5
