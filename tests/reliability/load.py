"""A mixed load over the native HTTP API: producers enqueue, workers claim and complete.

Every acknowledgement the server gives is written down in a Ledger, with the lease window of
every claim, so that a test can check afterwards that nothing acknowledged was lost and that
no job was ever held by two workers at once.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

QUEUE = "reliability"
Api = Callable[[], str]


def seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


@dataclass
class Ledger:
    """What the clients were told, shared by their threads."""

    enqueued: set[str] = field(default_factory=set)
    claims: dict[str, list[tuple[int, float, float, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )  # job id -> (attempt, claimed at, lease expires at, worker)
    completed: set[str] = field(default_factory=set)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def timed(self, kind: str, started: float, status: int) -> None:
        with self.lock:
            self.latencies[kind].append(time.perf_counter() - started)
            self.statuses[status] += 1


class Client(threading.Thread):
    """One load thread; a transport error (the server died) ends its round quietly."""

    def __init__(
        self, name: str, api: Api, ledger: Ledger, stop: threading.Event, pause: float = 0.0
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.api, self.ledger, self.stop, self.pause = api, ledger, stop, pause

    def run(self) -> None:
        with httpx.Client(timeout=30) as http:
            while not self.stop.is_set():
                try:
                    self.once(http)
                except httpx.TransportError:
                    time.sleep(0.1)
                if self.pause:
                    time.sleep(self.pause)

    def once(self, http: httpx.Client) -> None:
        raise NotImplementedError


class Producer(Client):
    batch = 10

    def once(self, http: httpx.Client) -> None:
        jobs = [{"queue": QUEUE, "payload": {"n": n}, "max_attempts": 1000}
                for n in range(self.batch)]  # fmt: skip
        body: dict[str, Any] = {"jobs": jobs} if self.batch > 1 else jobs[0]
        started = time.perf_counter()
        r = http.post(f"{self.api()}/jobs", json=body)
        self.ledger.timed("enqueue", started, r.status_code)
        if r.status_code == 201:
            data = r.json()
            ids = [j["id"] for j in data["jobs"]] if self.batch > 1 else [data["id"]]
            with self.ledger.lock:
                self.ledger.enqueued.update(ids)
        else:
            time.sleep(0.1)


class Consumer(Client):
    lease = 2.0
    max = 10

    def once(self, http: httpx.Client) -> None:
        body = {"queues": [QUEUE], "max": self.max, "wait": 1.0, "lease_seconds": self.lease,
                "worker": {"name": self.name, "host": "reliability"}}  # fmt: skip
        started = time.perf_counter()
        r = http.post(f"{self.api()}/claim", json=body)
        self.ledger.timed("claim", started, r.status_code)
        if r.status_code != 200:
            time.sleep(0.05 if r.status_code == 204 else 0.2)
            return
        jobs = r.json()["jobs"]
        with self.ledger.lock:
            for job in jobs:
                self.ledger.claims[job["id"]].append((job["attempt"],
                    seconds(job["last_heartbeat_at"]), seconds(job["lease_expires_at"]),
                    self.name))  # fmt: skip
        acks = [{"id": j["id"], "token": j["lease_token"], "result": j["payload"]} for j in jobs]
        started = time.perf_counter()
        r = http.post(f"{self.api()}/ack", json={"acks": acks})
        self.ledger.timed("ack", started, r.status_code)
        if r.status_code != 200:
            return
        with self.ledger.lock:
            for result in r.json()["results"]:
                if result["ok"]:
                    self.ledger.completed.add(result["id"])
                else:  # only a lease that ran out (a crash in between) may refuse it
                    assert result["error"]["code"] == "stale_lease", result


class Load:
    """Producer and consumer threads against whatever server `api()` names at the time."""

    def __init__(
        self, api: Api, ledger: Ledger, producers: int, consumers: int, pause: float = 0.0
    ) -> None:
        """`pause`: seconds each producer waits between requests (a steady, not maximal, load)."""
        self.stop_event = threading.Event()
        stop = self.stop_event
        self.threads: list[Client] = [
            *(Producer(f"p{n}", api, ledger, stop, pause) for n in range(producers)),
            *(Consumer(f"w{n}", api, ledger, stop) for n in range(consumers)),
        ]
        for t in self.threads:
            t.start()

    def stop(self) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(60)


def list_jobs(api: str, queue: str = QUEUE) -> dict[str, dict[str, Any]]:
    """Every job of `queue`, by id, paging with the cursor."""
    jobs: dict[str, dict[str, Any]] = {}
    params: dict[str, Any] = {"queue": queue, "limit": 1000, "sort": "seq"}
    with httpx.Client(timeout=60) as http:
        while True:
            page = http.get(f"{api}/jobs", params=params).json()
            jobs.update({j["id"]: j for j in page["jobs"]})
            if not page["next_cursor"]:
                return jobs
            params["cursor"] = page["next_cursor"]


def overlapping_holds(ledger: Ledger) -> list[str]:
    """Jobs claimed again before the previous holder's lease had run out (must be none)."""
    bad = []
    for job_id, claims in ledger.claims.items():
        ordered = sorted(claims)
        attempts = [c[0] for c in ordered]
        if len(set(attempts)) != len(attempts):
            bad.append(f"{job_id}: one attempt claimed twice {ordered}")
        for before, after in itertools.pairwise(ordered):
            if after[1] < before[2] - 0.002:  # timestamps are rounded to the millisecond
                bad.append(f"{job_id}: {after} while {before} held it")
    return bad


def lost(ledger: Ledger, jobs: dict[str, dict[str, Any]]) -> tuple[set[str], set[str]]:
    """(acknowledged enqueues missing, acknowledged completions not succeeded)."""
    missing = ledger.enqueued - jobs.keys()
    undone = {i for i in ledger.completed if jobs.get(i, {}).get("state") != "succeeded"}
    return missing, undone
