"""kill -9 of the server during concurrent enqueues loses no acknowledged job."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server

pytestmark = pytest.mark.acceptance
ROUNDS = 3
PRODUCERS = 6


def produce(api: str, acknowledged: list[str], stop: threading.Event, batch: int) -> None:
    with httpx.Client(timeout=5) as client:
        while not stop.is_set():
            body = {"jobs": [{"queue": "crash"} for _ in range(batch)]} if batch > 1 else {
                "queue": "crash"}  # fmt: skip
            try:
                r = client.post(f"{api}/jobs", json=body)
            except httpx.HTTPError:
                return  # the server died mid-request: not acknowledged
            if r.status_code == 201:
                data = r.json()
                acknowledged += [j["id"] for j in data["jobs"]] if batch > 1 else [data["id"]]


def test_acknowledged_enqueues_survive_kill_9(tmp_path: Path):
    db = f"sqlite:///{tmp_path / 'crash.db'}"
    acknowledged: list[str] = []
    for round_ in range(ROUNDS):
        server = Server(db).start()
        stop = threading.Event()
        threads = [threading.Thread(target=produce, args=(server.api, acknowledged, stop,
                                                          1 if n % 2 else 20))
                   for n in range(PRODUCERS)]  # fmt: skip
        for t in threads:
            t.start()
        time.sleep(random.uniform(0.5, 1.5))
        server.kill()
        stop.set()
        for t in threads:
            t.join(10)
        print(f"round {round_}: {len(acknowledged)} acknowledged so far")
    server = Server(db).start()
    try:
        found: set[str] = set()
        cursor = None
        while True:
            params = {"queue": "crash", "limit": 1000, **({"cursor": cursor} if cursor else {})}
            page = httpx.get(f"{server.api}/jobs", params=params, timeout=30).json()
            found |= {j["id"] for j in page["jobs"]}
            cursor = page["next_cursor"]
            if cursor is None:
                break
        lost = set(acknowledged) - found
        print(f"acknowledged {len(acknowledged)}, found {len(found)}, lost {len(lost)}")
        assert len(acknowledged) > 100
        assert lost == set()
    finally:
        server.stop()
