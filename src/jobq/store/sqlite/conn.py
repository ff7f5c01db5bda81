"""SQLite connections with group commit.

One writer thread owns the only write connection. Every write operation is a function of that
connection; the writer runs all operations that arrived while the previous transaction was in
flight in ONE transaction (if one fails, the group runs again with each operation in its own
savepoint, so one failing operation does not undo the others), commits once with
synchronous=FULL, and only then answers every caller. Durability is per request; the cost of
the fsync is shared. Reads run on a small pool of threads, each with its own connection (WAL
lets them read while the writer writes).

Memory: each connection keeps its own page cache, which SQLite fills up to the connection's
`cache_size` as the database grows. A store has one budget for all its connections together
(`cache_split`): half for the writer, whose cache survives its own commits and holds what
writes touch (the tail of the table and of each index, the head of each queue), half shared by
the readers, whose caches SQLite empties anyway whenever another connection wrote since their
last read (so they only matter while nothing is written). See docs/design.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import Any, TypeVar

from jobq.errors import StoreUnavailable

T = TypeVar("T")
Op = Callable[[sqlite3.Connection], Any]
log = logging.getLogger("jobq.store")

MAX_GROUP = 2000  # operations per transaction
DEFAULT_CACHE_MIB = 32  # page-cache budget of one store, all its connections together
READERS = 2  # reader threads (and connections) per store
_STOP = object()


def cache_split(budget_mib: int, readers: int = READERS) -> tuple[int, int]:
    """(writer KiB, KiB per reader) of a page-cache budget: half to the writer, half shared
    by the readers."""
    if budget_mib < 1:
        raise ValueError(f"the SQLite cache budget must be at least 1 MiB, got {budget_mib}")
    half = budget_mib * 1024 // 2
    return half, half // readers


def bind_null(value: None) -> None:
    """sqlite3's adapter for None: NULL, as without one, found at once.

    Without an adapter, Python 3.11's sqlite3 binds each None parameter only after asking the
    adaptation protocol: one of its lookups, on a type object, raises and clears an
    AttributeError (its message formatted each time): ~0.2 us per None, ~1.2 us per new
    job's row (and more per acknowledgement's). The value bound is the same NULL."""
    return None


def adapt_none() -> None:
    """Install `bind_null`. The registry is the sqlite3 module's, so this holds for the whole
    process: a SQLite store installs it as it opens, never an import."""
    sqlite3.register_adapter(type(None), bind_null)


def connect(path: str, *, cache_kib: int, readonly: bool = False) -> sqlite3.Connection:
    """A connection in WAL mode whose page cache holds at most `cache_kib` KiB."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute(f"PRAGMA cache_size=-{int(cache_kib)}")  # negative: KiB, not pages
    if readonly:
        conn.execute("PRAGMA query_only=1")
    return conn


def unavailable(exc: sqlite3.Error) -> StoreUnavailable:
    return StoreUnavailable(f"the SQLite database cannot be written: {exc}", reason=str(exc))


def migrate(conn: sqlite3.Connection, upto: int | None = None) -> list[int]:
    """Apply every migration in migrations/ not yet applied (up to `upto`); the versions
    applied."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
    done = {v for (v,) in conn.execute("SELECT version FROM schema_migrations")}
    applied = []
    folder = resources.files("jobq.store.sqlite").joinpath("migrations")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        version = int(entry.name.split("_", 1)[0])
        if not entry.name.endswith(".sql") or version in done:
            continue
        if upto is not None and version > upto:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in entry.read_text().split(";\n"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations (version) VALUES (?)", (version,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(version)
    return applied


class GroupCommitter:
    """The writer thread: runs write operations in shared transactions."""

    def __init__(self, path: str, cache_kib: int) -> None:
        self._path = path
        self._cache_kib = cache_kib
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="jobq-sqlite-writer", daemon=True)
        self._conn: sqlite3.Connection | None = None

    def start(self) -> None:
        self._conn = connect(self._path, cache_kib=self._cache_kib)
        migrate(self._conn)
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._inbox.put(_STOP)
            self._thread.join()
        if self._conn is not None:
            self._conn.close()

    def submit(self, op: Op) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._inbox.put((op, future, loop))
        return future

    def _run(self) -> None:
        while True:
            first = self._inbox.get()
            if first is _STOP:
                return
            batch = [first]
            while len(batch) < MAX_GROUP:
                try:
                    item = self._inbox.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    self._inbox.put(_STOP)
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[Any]) -> None:
        assert self._conn is not None
        conn = self._conn
        try:
            outcomes = _run_group(conn, [op for op, _, _ in batch])
        except sqlite3.Error as exc:
            log.error("transaction failed: %s", exc)
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            outcomes = [(False, unavailable(exc))] * len(batch)
        _answer(batch, outcomes)


def _run_group(conn: sqlite3.Connection, ops: list[Op]) -> list[tuple[bool, Any]]:
    """Run `ops` in one transaction and commit it.

    Optimistically without savepoints: every statement costs the writer a release and a
    retake of the GIL, which the event loop holds most of the time under load. If an operation
    fails, the transaction is rolled back whole; a lone operation's caller gets the error, a
    group runs again with each operation in its own savepoint, so only the failing one is
    undone (operations are functions of the connection: running one again is safe)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        outcomes = [(True, op(conn)) for op in ops]
    except sqlite3.OperationalError:
        raise  # disk full, I/O error: the whole transaction is lost
    except Exception as exc:
        conn.execute("ROLLBACK")
        if len(ops) == 1:
            return [(False, exc)]
        conn.execute("BEGIN IMMEDIATE")
        outcomes = [_run_in_savepoint(conn, op) for op in ops]
    conn.execute("COMMIT")
    return outcomes


def _run_in_savepoint(conn: sqlite3.Connection, op: Op) -> tuple[bool, Any]:
    conn.execute("SAVEPOINT op")
    try:
        value = op(conn)
    except sqlite3.OperationalError:
        raise  # disk full, I/O error: the whole transaction is lost
    except Exception as exc:  # the caller gets it; the other operations go on
        conn.execute("ROLLBACK TO op")
        conn.execute("RELEASE op")
        return False, exc
    conn.execute("RELEASE op")
    return True, value


def _answer(batch: list[Any], outcomes: list[tuple[bool, Any]]) -> None:
    by_loop: dict[Any, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
    for (_, future, loop), (ok, value) in zip(batch, outcomes, strict=True):
        by_loop.setdefault(loop, []).append((future, ok, value))
    for loop, items in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the caller's loop closed: nobody waits
            loop.call_soon_threadsafe(_settle, items)


def _settle(items: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in items:
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class Readers:
    """A few threads, each with its own read-only connection."""

    def __init__(self, path: str, cache_kib: int, threads: int = READERS) -> None:
        self._path = path
        self._cache_kib = cache_kib
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="jobq-sqlite-read")
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self._path, cache_kib=self._cache_kib, readonly=True)
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, lambda: fn(self._conn()))
        except sqlite3.OperationalError as exc:
            raise unavailable(exc) from exc

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()
