"""Real `jobq worker` subprocesses next to the real `jobq serve` of tests/conftest.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jobq.client import Client
from tests.conftest import Server


def wait_until(check: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    """Poll `check` until it returns something truthy; generous timeouts, no tight sleeps."""
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class WorkerProcess:
    """A `jobq worker` subprocess; its log goes to a file shown when a test fails."""

    def __init__(self, server: Server, log_path: Path, args: tuple[str, ...], cwd: Path) -> None:
        cmd = [sys.executable, "-m", "jobq", "worker", "--url", server.url, *args]
        self.log_path = log_path
        self._log = log_path.open("wb")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(cwd), *sys.path])}
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, cwd=cwd,
                                     env=env)  # fmt: skip

    def signal(self, sig: signal.Signals) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def wait(self, timeout: float = 60.0) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.signal(signal.SIGKILL)
            self.proc.wait()
        self._log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def client(server: Server) -> Iterator[Client]:
    with Client(server.url, timeout=60) as c:
        yield c


@pytest.fixture
def start_worker(server: Server, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(*args: str) -> WorkerProcess:
        log = tmp_path / f"worker-{len(started)}.log"
        worker = WorkerProcess(server, log, args, tmp_path)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
    for worker in started:
        print(f"--- {worker.log_path.name} ---\n{worker.output()[-5000:]}")


def running_pid(path: Path) -> int:
    """The pid a command wrote to `path`, once it has."""
    return int(wait_until(lambda: path.exists() and path.read_text().strip(), what=str(path)))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (killed, not yet reaped by its orphaned parent's init) counts as gone
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
