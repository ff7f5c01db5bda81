"""The SQLite store's page-cache budget: one figure for all its connections, held as the
database grows past it (docs/design.md, "SQLite: memory")."""

from __future__ import annotations

import ctypes
import sqlite3
import time
from pathlib import Path

import pytest

from jobq.engine import Engine, JobSpec
from jobq.model import JobQuery
from jobq.notify import Notifier
from jobq.store import open_store, sqlite_cache_mib, sqlite_path
from jobq.store.sqlite import SQLiteStore
from jobq.store.sqlite.conn import DEFAULT_CACHE_MIB, cache_split

MIB = 1024 * 1024


def sqlite_memory_used() -> int:
    """Bytes SQLite has allocated in this process (sqlite3_memory_used), or skip the test."""
    import _sqlite3

    try:
        used = ctypes.CDLL(_sqlite3.__file__).sqlite3_memory_used
    except (OSError, AttributeError):
        pytest.skip("sqlite3_memory_used is not reachable in this Python build")
    used.restype = ctypes.c_int64
    return int(used())


def pragma_cache_size(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA cache_size").fetchone()[0])


def test_the_budget_is_half_for_the_writer_half_shared_by_the_readers():
    assert cache_split(32, readers=2) == (16 * 1024, 8 * 1024)
    assert cache_split(1, readers=4) == (512, 128)
    with pytest.raises(ValueError, match="at least 1 MiB"):
        cache_split(0)


def test_the_url_sets_the_budget_and_refuses_what_it_does_not_know():
    assert sqlite_cache_mib("sqlite:///jobs.db?cache_mib=8") == 8
    assert sqlite_path("sqlite:///jobs.db?cache_mib=8") == "jobs.db"
    assert sqlite_cache_mib("sqlite:////var/jobq/jobs.db") is None
    for bad in ("cache_mib=0", "cache_mib=lots", "cache=8", "cache_mib"):
        with pytest.raises(ValueError):
            open_store(f"sqlite:///jobs.db?{bad}")


async def test_every_connection_gets_its_share(tmp_path: Path):
    store = open_store(f"sqlite:///{tmp_path / 'jobq.db'}?cache_mib=8")
    assert isinstance(store, SQLiteStore)
    await store.open()
    try:
        writer = await store._writer.submit(pragma_cache_size)
        reader = await store._readers.run(pragma_cache_size)
    finally:
        await store.close()
    assert (writer, reader) == (-4096, -2048)  # negative: KiB


async def test_the_default_budget_applies_without_a_parameter(tmp_path: Path):
    store = open_store(f"sqlite:///{tmp_path / 'jobq.db'}")
    assert isinstance(store, SQLiteStore)
    await store.open()
    try:
        writer = await store._writer.submit(pragma_cache_size)
    finally:
        await store.close()
    assert writer == -cache_split(DEFAULT_CACHE_MIB)[0]


async def test_sqlite_memory_stays_within_the_budget_as_the_database_outgrows_it(tmp_path: Path):
    path = tmp_path / "jobq.db"
    before = sqlite_memory_used()
    store = SQLiteStore(str(path), cache_mib=2)
    await store.open()
    try:
        engine = Engine(store, Notifier())
        for _ in range(10):
            now = time.time()
            jobs = [engine.build(JobSpec(queue="q", payload="x" * 200), now) for _ in range(2000)]
            await store.insert(jobs, now)
        for _ in range(3):  # reads while nothing is written: the readers' caches fill too
            await store.list_jobs(JobQuery(limit=20_000))
        used = sqlite_memory_used() - before
    finally:
        await store.close()
    assert path.stat().st_size > 8 * MIB  # the database is four times the budget ...
    assert used < 3 * MIB  # ... SQLite holds the 2 MiB budget and its bookkeeping
