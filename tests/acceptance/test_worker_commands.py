"""Command jobs run by a real `jobq worker`: logs, exit codes, cancel."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from jobq.client import Client
from tests.acceptance.conftest import WorkerProcess, alive, running_pid, wait_until

pytestmark = pytest.mark.acceptance
PY = sys.executable


def command(*argv: str, **fields: object) -> dict[str, object]:
    return {"type": "command", "payload": {"argv": list(argv)}, **fields}


def all_log_lines(client: Client, job_id: str) -> list[str]:
    lines, after = [], 0
    while True:
        page = client.logs(job_id, after=after, limit=100_000)
        if not page.entries:
            return lines
        lines += [e.text for e in page.entries]
        after = page.last_seq


def test_a_command_that_prints_100000_lines_has_all_of_them_in_order(
    client: Client, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker("--concurrency", "1")
    script = "import sys\nfor i in range(100_000): sys.stdout.write(f'line {i}\\n')"
    job = client.enqueue(**command(PY, "-c", script))
    done = client.get(job.id, wait=240)
    assert done.state == "succeeded", done.error
    assert done.result == {"exit_code": 0}
    assert all_log_lines(client, job.id) == [f"line {i}" for i in range(100_000)]


def test_stdout_and_stderr_are_kept_apart_and_a_nonzero_exit_fails_with_its_code(
    client: Client, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker()
    script = "import sys; print('out', flush=True); print('err', file=sys.stderr); sys.exit(7)"
    job = client.enqueue(**command(PY, "-c", script), max_attempts=1)
    done = client.get(job.id, wait=120)
    assert done.state == "failed"
    assert done.exit_code == 7
    assert done.error is not None and done.error["code"] == "exit_code"
    entries = client.logs(job.id).entries
    assert [(e.stream, e.text) for e in entries] == [("stdout", "out"), ("stderr", "err")]
    assert all(e.time is not None for e in entries)


def test_env_and_cwd_reach_the_command(
    client: Client, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    start_worker()
    script = "import os; print(os.environ['GREETING'], os.getcwd())"
    job = client.enqueue(type="command",
                         payload={"argv": [PY, "-c", script], "env": {"GREETING": "hello"},
                                  "cwd": str(tmp_path)})  # fmt: skip
    assert client.get(job.id, wait=120).state == "succeeded"
    assert [e.text for e in client.logs(job.id).entries] == [f"hello {tmp_path}"]


def test_a_bad_command_payload_fails_without_retry(
    client: Client, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker()
    bad = client.enqueue(type="command", payload={"argv": "not a list"})
    missing = client.enqueue(**command("/nonexistent/program"))
    assert client.get(bad.id, wait=120).error["code"] == "bad_payload"  # type: ignore[index]
    done = client.get(missing.id, wait=120)
    assert done.error is not None and done.error["code"] == "spawn_failed"
    assert done.attempt == 1


def test_cancel_of_a_sleeping_command_kills_it_and_the_job_ends_cancelled(
    client: Client, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    start_worker("--grace", "30")
    pid_file = tmp_path / "pid"
    script = (
        f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(600)"
    )
    job = client.enqueue(**command(PY, "-c", script))
    pid = running_pid(pid_file)
    client.cancel(job.id, reason="no longer needed")
    done = client.get(job.id, wait=120)
    assert done.state == "cancelled"
    assert done.error is not None and done.error["message"] == "no longer needed"
    wait_until(lambda: not alive(pid), what="the command to be gone")
    texts = [e.text for e in client.logs(job.id).entries if e.stream == "system"]
    assert any("SIGTERM" in t for t in texts)
    assert not any("SIGKILL" in t for t in texts)  # it obeyed SIGTERM, well within grace


def test_a_command_that_ignores_sigterm_is_killed_after_the_grace_period(
    client: Client, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    start_worker("--grace", "1")
    pid_file = tmp_path / "pid"
    script = (
        "import os, signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "time.sleep(600)\n"
    )
    job = client.enqueue(**command(PY, "-c", script))
    pid = running_pid(pid_file)
    client.cancel(job.id)
    assert client.get(job.id, wait=120).state == "cancelled"
    wait_until(lambda: not alive(pid), what="the command to be killed")
    texts = [e.text for e in client.logs(job.id).entries if e.stream == "system"]
    assert any("SIGKILL" in t for t in texts)


def test_a_command_past_its_deadline_is_stopped(
    client: Client, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    start_worker("--grace", "5")
    pid_file = tmp_path / "pid"
    script = (
        f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(600)"
    )
    job = client.enqueue(**command(PY, "-c", script), deadline_seconds=1.5)
    pid = running_pid(pid_file)
    done = client.get(job.id, wait=120)
    assert done.state == "failed"
    assert done.error is not None and done.error["code"] == "deadline_exceeded"
    wait_until(lambda: not alive(pid), what="the command to be stopped")


def test_a_failed_commands_error_carries_its_last_stderr_lines(
    client: Client, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker()
    script = "import sys\nfor i in range(30): print(f'problem {i}', file=sys.stderr)\nsys.exit(3)"
    job = client.enqueue(**command(PY, "-c", script), max_attempts=1)
    done = client.get(job.id, wait=120)
    assert done.state == "failed" and done.error is not None
    details = done.error["details"]
    assert details["exit_code"] == 3
    assert details["stderr"] == "\n".join(f"problem {i}" for i in range(10, 30))


def test_a_worker_shows_its_slots_and_the_jobs_it_holds(
    client: Client, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker("--concurrency", "3")
    job = client.enqueue(**command(PY, "-c", "import time; time.sleep(60)"))
    wait_until(lambda: client.get(job.id).state == "running", 60)
    [worker] = [w for w in client.workers() if w.jobs_held]
    assert (worker.slots, worker.live, worker.jobs_held) == (3, True, 1)
    assert worker.jobs == [{"id": job.id, "queue": job.queue, "type": "command"}]
    client.cancel(job.id)


def test_a_command_snoozes_without_using_its_one_attempt(
    client: Client, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    worker = start_worker()
    marker = tmp_path / "asked-once"
    script = (
        "import os, pathlib, sys\n"
        f"marker = pathlib.Path({str(marker)!r})\n"
        "if not marker.exists():\n"
        "    marker.touch(); print('JOBQ_SNOOZE=1')\n"
        "    sys.exit(int(os.environ['JOBQ_SNOOZE_EXIT']))\n"
        "print('ran')"
    )
    job = client.enqueue(**command(PY, "-c", script), max_attempts=1)
    done = client.get(job.id, wait=120)
    assert (done.state, done.attempt) == ("succeeded", 1), done.error
    assert [a.outcome for a in client.attempts(job.id)] == ["succeeded"]
    assert "snoozed" in worker.output()
