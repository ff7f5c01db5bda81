"""Fixtures shared by every tier: stores, engines, and a real `jobq serve` process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from jobq.engine import Defaults, Engine
from jobq.notify import Notifier
from jobq.store.base import Store
from jobq.store.sqlite import SQLiteStore

STORES = ["sqlite"]


async def make_store(kind: str, tmp_path: Path) -> Store:
    if kind == "sqlite":
        return SQLiteStore(str(tmp_path / "jobq.db"))
    raise ValueError(kind)


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def store(store_kind: str, tmp_path: Path) -> AsyncIterator[Store]:
    s = await make_store(store_kind, tmp_path)
    await s.open()
    yield s
    await s.close()


@pytest.fixture
async def engine(store: Store) -> Engine:
    return Engine(store, Notifier(), Defaults(backoff_base=0.05, backoff_max=0.2))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A real `jobq serve` subprocess on a free loopback port."""

    def __init__(self, db: str, *args: str) -> None:
        self.db = db
        self.args = args
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = f"{self.url}/api/v1"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> Server:
        cmd = [sys.executable, "-m", "jobq", "serve", "--db", self.db, "--port", str(self.port),
               "--log-level", "warning", *self.args]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"jobq serve exited {self.proc.returncode}: {err}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("jobq serve did not become ready")

    def kill(self) -> None:
        """kill -9: no shutdown, no flush."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()  # else an unclosed pipe warns (and warnings are errors)


@pytest.fixture
def server_db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jobq.db'}"


@pytest.fixture
def server(server_db: str) -> Iterator[Server]:
    srv = Server(server_db).start()
    yield srv
    srv.stop()
