"""kill -9 of `jobq worker` processes mid-job, again and again: every job still finishes (at
least once), and a job whose worker died is taken up again only after its lease ran out, by
another worker."""

from __future__ import annotations

import itertools
import random
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.acceptance.conftest import WorkerProcess
from tests.conftest import Server
from tests.reliability.figures import record, size
from tests.reliability.load import seconds

pytestmark = pytest.mark.reliability
JOBS, KILLS = size(60, 200), size(3, 20)
# each job runs this long: the work (JOBS x RUN / 12 slots) must outlast the kills (1-3 s apart)
RUN = 3.0
LEASE = 2.0


def running_by_worker(api: str) -> dict[str, int]:
    jobs = httpx.get(f"{api}/jobs", params={"state": "running", "limit": 1000}, timeout=30)
    held: dict[str, int] = {}
    for job in jobs.json()["jobs"]:
        name = (job["worker"] or {}).get("name")
        if name:
            held[name] = held.get(name, 0) + 1
    return held


def unfinished(api: str) -> bool:
    params = {"state": ["scheduled", "queued", "running"], "limit": 1}
    return bool(httpx.get(f"{api}/jobs", params=params, timeout=30).json()["jobs"])


def check_attempts(api: str, job_id: str) -> tuple[int, list[str]]:
    """(expired attempts of the job, problems found)."""
    attempts = httpx.get(f"{api}/jobs/{job_id}/attempts", timeout=30).json()["attempts"]
    problems, expired = [], 0
    for before, after in itertools.pairwise(attempts):
        if before["outcome"] != "expired":
            continue
        expired += 1
        if after["worker"]["name"] == before["worker"]["name"]:
            problems.append(f"{job_id}: retried by the worker that died")
        if seconds(after["started_at"]) < seconds(before["finished_at"]) - 0.002:
            problems.append(f"{job_id}: attempt {after['attempt']} began inside the lease")
    if attempts[-1]["outcome"] != "succeeded":
        problems.append(f"{job_id}: last attempt {attempts[-1]['outcome']}")
    return expired, problems


def test_killed_workers_lose_no_job(tmp_path: Path):
    server = Server(f"sqlite:///{tmp_path / 'workers.db'}").start(timeout=60)
    workers: dict[str, WorkerProcess] = {}

    def start(n: int) -> None:
        name = f"worker-{n}"
        args = ("--lease", str(LEASE), "--concurrency", "4", "--name", name)
        workers[name] = WorkerProcess(server, tmp_path / f"{name}.log", args, tmp_path)

    try:
        command = {"type": "command", "payload": {"argv": ["sleep", str(RUN)]}, "max_attempts": 50}
        body = {"jobs": [command for _ in range(JOBS)]}
        ids = [j["id"] for j in httpx.post(f"{server.api}/jobs", json=body).json()["jobs"]]
        for n in range(3):
            start(n)
        kills, next_n, give_up = 0, 3, time.monotonic() + 600
        while kills < KILLS and time.monotonic() < give_up:
            time.sleep(random.uniform(1.0, 3.0))
            busy = [name for name, count in running_by_worker(server.api).items()
                    if count and name in workers and workers[name].proc.poll() is None]  # fmt: skip
            if not busy:
                if not unfinished(server.api):
                    break  # everything ran before all the kills were made
                continue
            victim = random.choice(busy)
            workers[victim].signal(signal.SIGKILL)
            workers[victim].wait()
            kills += 1
            start(next_n)
            next_n += 1
        for job_id in ids:
            job = httpx.get(f"{server.api}/jobs/{job_id}", params={"wait": 300},
                            timeout=330).json()  # fmt: skip
            assert job["state"] == "succeeded", job
        checked = [check_attempts(server.api, job_id) for job_id in ids]
        assert kills >= 1, "no worker was killed while holding a job"
    finally:
        for worker in workers.values():
            worker.stop()
        server.stop()
    problems = [p for _, found in checked for p in found]
    record("worker_crash", jobs=JOBS, workers_killed=kills,
           jobs_rerun_after_a_kill=sum(1 for e, _ in checked if e),
           jobs_succeeded=JOBS, jobs_lost=0, problems=len(problems))  # fmt: skip
    assert kills == KILLS and problems == [], problems[:10]
