"""Throwaway PostgreSQL databases for tests: each one a copy of a template migrated once.

The server is JOBQ_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/postgres).
Unreachable, the PostgreSQL tests are skipped, except when CI=true: then they fail, so that CI
never passes without having tested PostgreSQL.
"""

from __future__ import annotations

import asyncio
import itertools
import os
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


async def drop_template() -> None:
    if _state.get("template") and not _state.get("error"):
        await _admin(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")


def create_database_sync(*, migrated: bool = True) -> str:
    return asyncio.run(create_database(migrated=migrated))


def drop_database_sync(url: str) -> None:
    asyncio.run(drop_database(url))


def drop_template_sync() -> None:
    if _state.get("template") and not _state.get("error"):
        asyncio.run(drop_template())
