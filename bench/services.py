"""What the benchmarks run against: `jobq serve` subprocesses, fresh PostgreSQL databases,
Redis, and the facts printed with every result (cores, commit, load)."""

from __future__ import annotations

import asyncio
import datetime
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

PG_ADMIN = os.environ.get("JOBQ_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("JOBQ_BENCH_REDIS", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parent.parent


class Missing(RuntimeError):
    """A service the benchmark needs is not there; the message says what to start."""


def machine() -> dict[str, object]:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()  # fmt: skip
    return {
        "cores": os.cpu_count(),
        "commit": commit + ("+dirty" if dirty else ""),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load": os.getloadavg(),
        "python": sys.version.split()[0],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class JobqServer:
    """A `jobq serve` subprocess on a free loopback port."""

    db: str
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, log: Path, timeout: float = 60.0) -> JobqServer:
        self.port = free_port()
        cmd = [sys.executable, "-m", "jobq", "serve", "--db", self.db, "--port", str(self.port),
               "--log-level", "warning"]  # fmt: skip
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jobq serve exited {self.proc.returncode}; see {log}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"jobq serve did not become ready; see {log}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _pg_url(name: str) -> str:
    base, _, _ = PG_ADMIN.rpartition("/")
    return f"{base}/{name}"


async def _pg_admin(sql: str) -> None:
    import asyncpg

    try:
        conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        raise Missing(f"PostgreSQL is needed at {PG_ADMIN} (user postgres, trust auth; set "
                      f"JOBQ_BENCH_POSTGRES to another URL): {exc}") from None  # fmt: skip
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_pg_database(tag: str) -> str:
    """A fresh, empty database; its URL."""
    name = f"jobq_bench_{tag}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    return _pg_url(name)


def drop_pg_database(url: str) -> None:
    name = url.rpartition("/")[2]
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def check_redis() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as exc:
        raise Missing(f"Redis is needed at {REDIS_URL} (set JOBQ_BENCH_REDIS; e.g. "
                      f"`apt-get install redis-server && redis-server --daemonize yes`): "
                      f"{exc}") from None  # fmt: skip


def check_postgres() -> None:
    asyncio.run(_pg_admin("SELECT 1"))


def worker_env() -> dict[str, str]:
    """The environment for worker subprocesses: the repository importable (bench.noop)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{env.get('PYTHONPATH', '')}"
    return env


@contextmanager
def processes(cmds: list[list[str]], log: Path,
              env: dict[str, str]) -> Iterator[list[subprocess.Popen[bytes]]]:  # fmt: skip
    """`cmds` running, their output in `log`; SIGTERM at the end, SIGKILL 20 s later."""
    with open(log, "ab") as out:
        procs = [subprocess.Popen(c, stdout=out, stderr=subprocess.STDOUT, env=env) for c in cmds]
    try:
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
