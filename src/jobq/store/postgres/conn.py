"""PostgreSQL connections: the pool, error translation and schema migrations.

Every store call runs in one transaction on one pooled connection. Errors that mean "the
database cannot be reached" (refused, lost connection, admin shutdown, too many clients) become
StoreUnavailable, which the HTTP layer answers with 503; the pool replaces broken connections on
its own, so the server recovers without a restart once PostgreSQL is back. Deadlocks and
serialization failures are retried a few times before they too become StoreUnavailable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from jobq.errors import InvalidInput, StoreUnavailable

try:
    import asyncpg
except ImportError as exc:  # pragma: no cover - exercised through a subprocess test
    raise ImportError(
        "PostgreSQL support needs the asyncpg driver: pip install asyncpg (or, in jobq's "
        "checkout, pip install -e '.[postgres]')"
    ) from exc

T = TypeVar("T")
log = logging.getLogger("jobq.store")
Conn = Any  # asyncpg.Connection; asyncpg ships no type information

MIGRATION_LOCK = 0x6A6F6271  # "jobq": one node migrates at a time
RETRIES = 5
UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,  # class 08, and lost connections
    asyncpg.exceptions.OperatorInterventionError,  # class 57: admin shutdown, starting up
    asyncpg.exceptions.InsufficientResourcesError,  # class 53: disk full, too many clients
    asyncpg.InterfaceError,  # the pool or connection is closed or broken
    asyncpg.exceptions.InternalClientError,  # a connection killed mid-conversation
)
RETRYABLE = (asyncpg.exceptions.SerializationError, asyncpg.exceptions.DeadlockDetectedError)


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def unavailable(exc: BaseException, url: str) -> StoreUnavailable:
    reason = str(exc) or type(exc).__name__
    return StoreUnavailable(
        f"PostgreSQL at {redact(url)} cannot be reached: {reason}", reason=reason
    )


async def keep_session(conn: Conn) -> None:
    """What a pooled connection needs when it is given back: nothing more than asyncpg itself
    does (roll back a transaction left open, drop listeners). jobq leaves no session state on
    pooled connections (its locks are transaction locks, its settings SET LOCAL, LISTEN has a
    connection of its own), so asyncpg's default reset query (UNLISTEN *, RESET ALL, ...) would
    be a round trip per store call for nothing."""


class _Stale(Exception):
    """A pooled connection was found dead before any work was done on it."""


class _Translated:
    """Around one store call: PostgreSQL's and the connection's errors as jobq's. A plain
    context manager: one written as a generator costs ~1.4 us more, on every store call."""

    __slots__ = ("url",)

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, UNREACHABLE):
            raise unavailable(exc, self.url) from exc
        if isinstance(exc, asyncpg.exceptions.DataError):  # e.g. a NUL character in text
            raise InvalidInput(f"PostgreSQL refused a value: {exc}") from exc


def missing_database(url: str) -> StoreUnavailable:
    """The database the URL names does not exist: say how to create it."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or parts.username or "postgres"
    where = [f"-h {parts.hostname}"] if parts.hostname else []
    where += [f"-p {parts.port}"] if parts.port else []
    where += [f"-U {parts.username}"] if parts.username else []
    createdb = " ".join(["createdb", *where, name])
    return StoreUnavailable(
        f"PostgreSQL at {redact(url)}: database {name!r} does not exist; create it with "
        f'`{createdb}` (or CREATE DATABASE "{name}";), then run `jobq db migrate` again',
        reason="no such database",
    )


class Database:
    """A pool of connections to one PostgreSQL database, one transaction per call."""

    def __init__(self, url: str, min_size: int = 1, max_size: int = 10) -> None:
        self.url = url
        self._translated = _Translated(url)
        self.min_size = min_size
        self.max_size = max_size
        self._pool: Any = None

    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self.url,
                min_size=self.min_size,
                max_size=self.max_size,
                command_timeout=60,
                max_inactive_connection_lifetime=300,
                server_settings={"application_name": "jobq"},
                reset=keep_session,
            )
        except UNREACHABLE as exc:
            raise unavailable(exc, self.url) from exc
        except asyncpg.exceptions.InvalidCatalogNameError as exc:
            raise missing_database(self.url) from exc
        except asyncpg.exceptions.InvalidAuthorizationSpecificationError as exc:
            raise StoreUnavailable(
                f"PostgreSQL at {redact(self.url)} refused the login: {exc}", reason=str(exc)
            ) from exc

    async def close(self) -> None:
        if self._pool is not None:
            with contextlib.suppress(*UNREACHABLE):
                await asyncio.wait_for(self._pool.close(), 10)
            self._pool = None

    async def run(self, op: Callable[[Conn], Awaitable[T]]) -> T:
        """Run `op(connection)` in one transaction; retried on deadlock or serialization,
        and on a pooled connection found dead before the transaction began."""
        for attempt in range(RETRIES):
            try:
                with self._translated:
                    return await self._with_fresh(lambda: self._transaction(op))
            except RETRYABLE as exc:
                log.info("transaction retried after %s", type(exc).__name__)
                await asyncio.sleep(0.01 * 2**attempt)
        raise StoreUnavailable("PostgreSQL kept aborting the transaction; try again")

    async def once(self, op: Callable[[Conn], Awaitable[T]]) -> T:
        """Run a single-statement write (its own transaction: one round trip); retried on
        deadlock or serialization failure, which rolled it back, but not when the connection
        broke, since the statement may have committed."""
        for attempt in range(RETRIES):
            try:
                with self._translated:
                    return await self._plain(op)
            except RETRYABLE as exc:
                log.info("statement retried after %s", type(exc).__name__)
                await asyncio.sleep(0.01 * 2**attempt)
        raise StoreUnavailable("PostgreSQL kept aborting the statement; try again")

    async def read(self, op: Callable[[Conn], Awaitable[T]]) -> T:
        """Run a read (no explicit transaction); a read is safe to repeat, so one that met a
        dead pooled connection is tried once more on a new one."""
        with self._translated:
            return await self._with_fresh(lambda: self._plain(op), reads=True)

    def _acquire(self) -> Any:
        if self._pool is None:
            raise StoreUnavailable("the PostgreSQL store is not open")
        return self._pool.acquire()

    async def _with_fresh(self, call: Callable[[], Awaitable[T]], reads: bool = False) -> T:
        """`call()`, again once if it found its pooled connection dead (after a restart of
        PostgreSQL every idle connection is)."""
        try:
            return await call()
        except _Stale as exc:
            log.info("replaced a dead pooled connection (%s)", exc.__cause__)
        except UNREACHABLE as exc:
            if not reads:
                raise
            log.info("read retried after %s", type(exc).__name__)
        try:
            return await call()
        except _Stale as exc:
            raise exc.__cause__ or exc from None

    async def _transaction(self, op: Callable[[Conn], Awaitable[T]]) -> T:
        async with self._acquire() as conn:
            tx = conn.transaction()
            try:
                await tx.start()
            except UNREACHABLE as exc:  # nothing was done: safe to try elsewhere
                raise _Stale() from exc
            try:
                result = await op(conn)
            except BaseException:
                with contextlib.suppress(Exception):
                    await tx.rollback()
                raise
            await tx.commit()
            return result

    async def _plain(self, op: Callable[[Conn], Awaitable[T]]) -> T:
        async with self._acquire() as conn:
            return await op(conn)

    async def connect(self) -> Conn:
        """A dedicated connection outside the pool (for LISTEN)."""
        with self._translated:
            return await asyncpg.connect(
                self.url, timeout=10, server_settings={"application_name": "jobq-listen"}
            )


# --- migrations ---


def migration_files() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration, in order."""
    folder = resources.files("jobq.store.postgres").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.name, entry.read_text()))
    return sorted(found)


LATEST = max(v for v, _, _ in migration_files())


async def migrate(conn: Conn, upto: int | None = None) -> list[int]:
    """Apply, in one transaction, every migration not yet applied (up to `upto`); the
    versions applied. An advisory lock keeps nodes starting together from racing."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version integer PRIMARY KEY, name text NOT NULL, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r[0] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        applied = []
        for version, name, sql in migration_files():
            if version in done or (upto is not None and version > upto):
                continue
            await conn.execute(sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name
            )
            applied.append(version)
        return applied


async def schema_version(conn: Conn) -> int:
    """The newest migration applied, 0 for an empty database."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations"))


async def migrate_url(url: str, upto: int | None = None) -> list[int]:
    """Migrate the database at `url` (what `jobq db migrate` runs)."""
    db = Database(url, min_size=1, max_size=1)
    await db.open()
    try:
        return await db.read(lambda conn: migrate(conn, upto))
    finally:
        await db.close()
