"""Throwaway PostgreSQL databases for tests: each one a copy of a template migrated once.

The server is JOBQ_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/postgres).
Unreachable, the PostgreSQL tests are skipped, except when CI=true: then they fail, so that CI
never passes without having tested PostgreSQL.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

ADMIN_URL = os.environ.get("JOBQ_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
PREFIX = f"jobq_test_{os.getpid()}"
TEMPLATE = f"{PREFIX}_template"
_counter = itertools.count(1)
_state: dict[str, object] = {}


def database_url(name: str) -> str:
    parts = urlsplit(ADMIN_URL)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def unreachable(reason: str) -> None:
    message = f"PostgreSQL at {ADMIN_URL} is unreachable: {reason}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: PostgreSQL tests must run)", pytrace=False)
    pytest.skip(f"{message} (set JOBQ_TEST_POSTGRES)")


async def _ensure_template() -> None:
    if "template" in _state:
        error = _state.get("error")
        if error:
            unreachable(str(error))
        return
    _state["template"] = True
    try:
        from jobq.store.postgres.conn import migrate_url

        await _admin(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
        await _admin(f"CREATE DATABASE {TEMPLATE}")
        await migrate_url(database_url(TEMPLATE))
    except (OSError, ImportError, TimeoutError) as exc:
        _state["error"] = repr(exc)
        unreachable(repr(exc))
    except Exception as exc:
        if type(exc).__module__.startswith("asyncpg") or "Unavailable" in type(exc).__name__:
            _state["error"] = repr(exc)
            unreachable(repr(exc))
        raise


async def create_database(*, migrated: bool = True) -> str:
    """A new database (a copy of the migrated template, or empty); its URL."""
    await _ensure_template()
    name = f"{PREFIX}_{next(_counter)}"
    template = TEMPLATE if migrated else "template0"
    await _admin(f"CREATE DATABASE {name} TEMPLATE {template}")
    return database_url(name)


async def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    await _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# what a fresh copy of the template holds: its migration records, and nothing else
KEEP = ("schema_migrations",)
_emptying: dict[str, str] = {}  # database URL -> the statements that empty it


async def _emptying_sql(conn: Any) -> str:
    """DELETE from every table but KEEP, referencing tables first; restart every sequence."""
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    tables = {r["tablename"] for r in rows} - set(KEEP)
    for t in sorted(tables):  # called on a fresh copy: a seeded table must be kept, not emptied
        assert not await conn.fetchval(f'SELECT count(*) FROM "{t}"'), f"{t} is seeded: KEEP it"
    refs = await conn.fetch(
        "SELECT conrelid::regclass::text AS child, confrelid::regclass::text AS parent"
        " FROM pg_constraint WHERE contype = 'f' AND conrelid <> confrelid"
    )
    order = _children_first(tables, {(r["child"], r["parent"]) for r in refs})
    sequences = await conn.fetch(
        "SELECT sequencename, start_value FROM pg_sequences WHERE schemaname = 'public'"
    )
    deletes = [f'DELETE FROM "{t}";' for t in order]
    restarts = [f"SELECT setval('\"{s[0]}\"', {s[1]}, false);" for s in sequences]
    return "".join(deletes + restarts)


def _children_first(tables: set[str], refs: set[tuple[str, str]]) -> list[str]:
    """`tables` in an order where each comes before the tables it references."""
    left, order = set(tables), []
    while left:
        free = sorted(t for t in left if not any(p == t and c in left for c, p in refs))
        assert free, f"foreign keys in a cycle among {left}"
        order += free
        left -= set(free)
    return order


async def empty_database(url: str) -> None:
    """Bring a database made by create_database() back to the template's state: every table
    but the migration records emptied, every sequence restarted. Much cheaper than dropping
    and creating a database (milliseconds, against about 0.3-1 s), for tests that share one."""
    import asyncpg

    conn = await asyncpg.connect(url, timeout=5)
    try:
        if url not in _emptying:
            _emptying[url] = await _emptying_sql(conn)
        # a connection left open by the test before would hold its locks: fail, never hang
        await conn.execute("SET lock_timeout = '10s'; SET synchronous_commit = off")
        async with conn.transaction():
            await conn.execute(_emptying[url])
    finally:
        await conn.close()


async def drop_template() -> None:
    if _state.get("template") and not _state.get("error"):
        await _admin(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")


def create_database_sync(*, migrated: bool = True) -> str:
    return asyncio.run(create_database(migrated=migrated))


def drop_database_sync(url: str) -> None:
    asyncio.run(drop_database(url))


def empty_database_sync(url: str) -> None:
    asyncio.run(empty_database(url))


def drop_template_sync() -> None:
    if _state.get("template") and not _state.get("error"):
        asyncio.run(drop_template())
