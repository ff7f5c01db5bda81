"""Fixtures shared by every tier: stores, engines, and a real `jobq serve` process."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from jobq.auth.store import AuthStore, auth_store_for
from jobq.engine import Defaults, Engine
from jobq.notify import Notifier
from jobq.store.base import Store
from jobq.store.sqlite import SQLiteStore
from tests import pgdb

STORES = ["sqlite", "postgres"]


async def make_store(kind: str, tmp_path: Path) -> Store:
    if kind == "sqlite":
        return SQLiteStore(str(tmp_path / "jobq.db"))
    if kind == "postgres":
        from jobq.store.postgres import PostgresStore

        return PostgresStore(await pgdb.create_database())
    raise ValueError(kind)


async def drop_store(store: Store) -> None:
    """Remove what make_store made outside tmp_path (a PostgreSQL database)."""
    url = getattr(store, "url", None)
    if isinstance(url, str) and url.startswith("postgresql:"):
        await pgdb.drop_database(url)


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def store(store_kind: str, tmp_path: Path) -> AsyncIterator[Store]:
    s = await make_store(store_kind, tmp_path)
    await s.open()
    yield s
    await s.close()
    await drop_store(s)


@pytest.fixture(scope="module")
def module_pg_url() -> Iterator[str]:
    """One migrated PostgreSQL database for a test module, emptied before each test that
    takes `store_url` (see there)."""
    url = pgdb.create_database_sync()
    yield url
    pgdb.drop_database_sync(url)


@pytest.fixture
def store_url(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The `--db` URL of an empty, migrated database of each kind: a SQLite file in tmp_path,
    or the module's PostgreSQL database emptied (a database per test would cost about a second
    each, doubling a dialect suite's time; the tests of one module run one after another)."""
    if store_kind == "sqlite":
        return f"sqlite:///{tmp_path / 'jobq.db'}"
    url = str(request.getfixturevalue("module_pg_url"))
    pgdb.empty_database_sync(url)
    return url


@pytest.fixture
def auth_store(store: Store) -> AuthStore:
    """The users, keys and grants in `store`'s database."""
    return auth_store_for(store)


@pytest.fixture
async def engine(store: Store) -> Engine:
    return Engine(store, Notifier(), Defaults(backoff_base=0.05, backoff_max=0.2))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listens_on(pid: int, port: int) -> bool:
    """Whether process `pid` holds the listening TCP socket of `port` (Linux /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    try:
        links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        return False
    return any(link == f"socket:[{inode}]" for link in links for inode in inodes)


class Server:
    """A real `jobq serve` subprocess on a free loopback port."""

    def __init__(self, db: str, *args: str) -> None:
        self.db = db
        self.args = args
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = f"{self.url}/api/v1"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = Path(tempfile.mkstemp(prefix="jobq-serve-", suffix=".log")[1])

    def start(self, timeout: float = 60.0) -> Server:
        cmd = [sys.executable, "-m", "jobq", "serve", "--db", self.db, "--port", str(self.port),
               "--log-level", "warning", *self.args]  # fmt: skip
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jobq serve exited {self.proc.returncode}: {self.output()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    if listens_on(self.proc.pid, self.port):
                        return self
                    # another test's server took the port first (free_port() is a race
                    # between processes): ours will exit; start again on a new port
                    self.kill()
                    self.port = free_port()
                    self.url = f"http://127.0.0.1:{self.port}"
                    self.api = f"{self.url}/api/v1"
                    return self.start(timeout)
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("jobq serve did not become ready")

    def output(self) -> str:
        """What the server printed so far."""
        return self.log_path.read_text(errors="replace")

    log = output

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
            self.proc.stderr.close()  # else pytest's warnings-as-errors flags the open pipe


@pytest.fixture
def server_db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jobq.db'}"


@pytest.fixture
def server(server_db: str) -> Iterator[Server]:
    srv = Server(server_db).start()
    yield srv
    srv.stop()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for `jobq serve` processes."""
    url = pgdb.create_database_sync()
    yield url
    pgdb.drop_database_sync(url)


@pytest.fixture(scope="session", autouse=True)
def _drop_pg_template() -> Iterator[None]:
    yield
    pgdb.drop_template_sync()
