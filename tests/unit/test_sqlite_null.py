"""None reaches SQLite as NULL through an adapter found at once (jobq.store.sqlite.conn):
Python 3.11's sqlite3 otherwise asks the adaptation protocol for every None it binds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from jobq.engine import Engine, JobSpec
from jobq.notify import Notifier
from jobq.store.sqlite import SQLiteStore
from jobq.store.sqlite.conn import bind_null

NULLABLE = ("callback_url", "owner", "unique_key", "retry_of", "deadline_seconds", "worker")


async def test_none_has_an_adapter_of_its_own_once_a_store_opens(tmp_path: Path) -> None:
    key = (type(None), sqlite3.PrepareProtocol)
    had = sqlite3.adapters.pop(key, None)
    try:
        store = SQLiteStore(str(tmp_path / "jobq.db"))
        assert key not in sqlite3.adapters  # not installed by an import, nor by a store made
        await store.open()
        await store.close()
        assert sqlite3.adapters[key] is bind_null
    finally:
        if had is not None:
            sqlite3.adapters[key] = had


async def test_a_new_jobs_absent_fields_are_stored_as_null(tmp_path: Path) -> None:
    path = tmp_path / "jobq.db"
    store = SQLiteStore(str(path))
    await store.open()
    try:
        engine = Engine(store, Notifier())
        [(job, created)] = await engine.enqueue([JobSpec(queue="q")])
        stored = await store.get(job.id)
    finally:
        await store.close()
    assert created and stored is not None
    assert [getattr(stored, name) for name in NULLABLE] == [None] * len(NULLABLE)
    with sqlite3.connect(path) as conn:
        kinds = conn.execute(
            f"SELECT {', '.join(f'typeof({name})' for name in NULLABLE)} FROM jobs WHERE id = ?",
            (job.id,),
        ).fetchone()
    assert kinds == ("null",) * len(NULLABLE)
