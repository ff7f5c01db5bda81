"""A worker's life: kill -9 mid-job, graceful shutdown (SIGTERM) with and without overrun, jobs
claimed ahead of a free slot."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from jobq.client import Client, Job
from tests.acceptance.conftest import WorkerProcess, wait_until

pytestmark = pytest.mark.acceptance
PY = sys.executable


def wait_for_marker_job(marker: Path, started: Path) -> dict[str, object]:
    """A command that notes it started, then runs until `marker` exists (at most 10 min)."""
    script = (
        "import os, sys, time, uuid\n"
        f"open(os.path.join({str(started)!r}, uuid.uuid4().hex), 'w').close()\n"
        "for _ in range(12000):\n"
        f"    if os.path.exists({str(marker)!r}): sys.exit(0)\n"
        "    time.sleep(0.05)\n"
        "sys.exit(1)\n"
    )
    return {"type": "command", "payload": {"argv": [PY, "-c", script]}}


def states(client: Client, jobs: list[Job]) -> list[str]:
    return [client.get(j.id).state for j in jobs]


def test_kill_9_of_a_worker_mid_job_returns_the_job_after_its_lease_and_another_finishes_it(
    client: Client, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    marker, started = tmp_path / "go", tmp_path / "started"
    started.mkdir()
    first = start_worker("--lease", "2", "--name", "first")
    job = client.enqueue(**wait_for_marker_job(marker, started))
    wait_until(lambda: any(started.iterdir()), what="the command to start")
    first.signal(signal.SIGKILL)
    first.wait()
    marker.touch()  # the orphaned command exits; the next attempt succeeds at once
    start_worker("--lease", "2", "--name", "second")
    done = client.get(job.id, wait=120)
    assert done.state == "succeeded"
    attempts = client.attempts(job.id)
    assert [a.outcome for a in attempts] == ["expired", "succeeded"], attempts
    assert [a.worker.name for a in attempts if a.worker] == ["first", "second"]


def test_sigterm_lets_running_jobs_finish_within_the_grace_period(
    client: Client, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    marker, started = tmp_path / "go", tmp_path / "started"
    started.mkdir()
    worker = start_worker("--concurrency", "3", "--grace", "120")
    jobs = [client.enqueue(**wait_for_marker_job(marker, started)) for _ in range(3)]
    wait_until(lambda: len(list(started.iterdir())) == 3, what="three commands to start")
    worker.signal(signal.SIGTERM)
    late = client.enqueue(**wait_for_marker_job(marker, started))  # must not be claimed now
    marker.touch()
    assert worker.wait(120) == 0
    assert states(client, jobs) == ["succeeded"] * 3
    assert client.get(late.id).state == "queued"


def test_sigterm_after_the_grace_period_hands_running_jobs_back_and_loses_nothing(
    client: Client, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    marker, started = tmp_path / "go", tmp_path / "started"
    started.mkdir()
    worker = start_worker("--concurrency", "4", "--grace", "1", "--prefetch", "0")
    quick = [client.enqueue(type="command", payload={"argv": ["true"]}) for _ in range(5)]
    wait_until(lambda: states(client, quick) == ["succeeded"] * 5, what="quick jobs")
    slow = [client.enqueue(**wait_for_marker_job(marker, started)) for _ in range(6)]
    wait_until(lambda: len(list(started.iterdir())) == 4, what="four commands to start")
    worker.signal(signal.SIGTERM)
    assert worker.wait(120) == 0
    # handed back at once: queued again, nothing waits for a lease to run out
    assert sorted(states(client, slow)) == ["queued"] * 6
    held = [a for j in slow for a in client.attempts(j.id)]
    assert sorted(a.outcome or "" for a in held) == ["released"] * 4
    marker.touch()
    start_worker("--concurrency", "4")
    for job in [*quick, *slow]:
        assert client.get(job.id, wait=120).state == "succeeded"


def test_jobs_claimed_ahead_keep_their_lease_while_held_and_go_back_at_once_on_sigterm(
    client: Client, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    marker, started = tmp_path / "go", tmp_path / "started"
    started.mkdir()
    worker = start_worker("--concurrency", "1", "--batch", "4", "--prefetch", "3",
                          "--lease", "1", "--grace", "120")  # fmt: skip
    jobs = [client.enqueue(**wait_for_marker_job(marker, started)) for _ in range(4)]
    wait_until(lambda: states(client, jobs) == ["running"] * 4, what="all four claimed")
    time.sleep(3)  # three leases long: the held jobs' leases are kept alive too
    assert states(client, jobs) == ["running"] * 4
    assert len(list(started.iterdir())) == 1  # one slot: one command runs, three wait
    worker.signal(signal.SIGTERM)
    wait_until(lambda: states(client, jobs).count("queued") == 3, what="held jobs back")
    assert len(list(started.iterdir())) == 1  # handed back while the running one still runs
    marker.touch()
    assert worker.wait(120) == 0
    assert sorted(states(client, jobs)) == ["queued"] * 3 + ["succeeded"]
    outcomes = sorted(a.outcome or "" for j in jobs for a in client.attempts(j.id))
    assert outcomes == ["released"] * 3 + ["succeeded"]


def test_a_burst_worker_runs_what_is_waiting_then_exits_by_itself(
    client: Client, start_worker: Callable[..., WorkerProcess]
) -> None:
    """--burst: no long polls; the worker stops once a claim finds nothing and its last
    jobs (here slower than the claims) have finished and been reported."""
    quick = [client.enqueue("default", "command", {"argv": ["true"]}) for _ in range(20)]
    slow = client.enqueue("default", "command", {"argv": [PY, "-c", "import time; time.sleep(2)"]})
    worker = start_worker("--concurrency", "4", "--burst")
    assert worker.wait(120) == 0
    metrics = httpx.get(f"{client.url}/metrics").text
    claims = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("jobq_http_requests_total") and '"/api/v1/claim"' in line
    )
    assert claims < 30  # not a claim after claim while the slow job ran: one per job's end
    assert states(client, [*quick, slow]) == ["succeeded"] * 21
    assert "burst: no job waiting" in worker.output()
    late = client.enqueue("default", "command", {"argv": ["true"]})
    assert client.get(late.id).state == "queued"  # nobody claims after the exit


def test_a_worker_with_max_jobs_runs_that_many_then_exits(
    client: Client, start_worker: Callable[..., WorkerProcess]
) -> None:
    """--max-jobs 4: it claims no more than four (no prefetch past the limit), reports them,
    and exits 0; the other jobs stay queued for another worker."""
    jobs = [client.enqueue("default", "command", {"argv": ["true"]}) for _ in range(10)]
    worker = start_worker("--concurrency", "2", "--max-jobs", "4")
    assert worker.wait(120) == 0
    assert sorted(states(client, jobs)) == ["queued"] * 6 + ["succeeded"] * 4
    assert "ran 4 jobs (--max-jobs): stopping" in worker.output()
