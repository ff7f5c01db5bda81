"""The auth SQL the PostgreSQL store runs (auth/store/sql.py numbered by for_postgres(),
tables from postgres/migrations/0001_init.sql and 0002_auth.sql), checked on a real PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from importlib import resources

import asyncpg
import pytest

from jobq.auth.store.sql import AUTH_SQL, for_postgres

SERVER = "postgresql://postgres@127.0.0.1:5432"


@pytest.fixture
async def pg() -> AsyncIterator[asyncpg.Connection]:
    name = f"jobq_auth_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(f"{SERVER}/postgres")
    await admin.execute(f"CREATE DATABASE {name}")
    conn = await asyncpg.connect(f"{SERVER}/{name}")
    try:
        for file in ("0001_init.sql", "0002_auth.sql"):  # claim_queue reads `queues` too
            schema = resources.files("jobq.store.postgres").joinpath(f"migrations/{file}")
            await conn.execute(schema.read_text())
        yield conn
    finally:
        await conn.close()
        await admin.execute(f"DROP DATABASE {name}")
        await admin.close()


async def test_every_auth_statement_runs_on_postgres(pg: asyncpg.Connection) -> None:
    q = for_postgres()
    assert set(q) == set(AUTH_SQL)
    assert await pg.fetchval(q["has_users"]) is False
    await pg.execute(q["add_user"], "ann", True, 1.0)
    await pg.execute(q["add_user"], "bob", False, 1.0)
    assert await pg.fetchval(q["has_users"]) is True
    assert tuple(await pg.fetchrow(q["get_user"], "ann")) == ("ann", True, 1.0)
    assert [r[0] for r in await pg.fetch(q["users"])] == ["ann", "bob"]
    await pg.execute(q["add_key"], "k1", "ann", "ci", "h" * 64, 2.0, None, None)
    assert (await pg.fetchrow(q["get_key"], "k1"))["user_name"] == "ann"
    assert len(await pg.fetch(q["keys"])) == len(await pg.fetch(q["user_keys"], "ann")) == 1
    await pg.execute(q["key_used"], 3.0, "k1")
    assert await pg.execute(q["revoke_key"], 4.0, "k1") == "UPDATE 1"
    assert await pg.execute(q["revoke_key"], 5.0, "k1") == "UPDATE 0"
    await pg.execute(q["claim_queue"], "q", "ann", 6.0, "q", "q")
    await pg.execute(q["claim_queue"], "q", "bob", 7.0, "q", "q")
    assert await pg.fetchval(q["queue_owner"], "q") == "ann"
    await pg.execute(q["set_queue_owner"], "r", "bob", 8.0)
    await pg.execute(q["grant"], "q", "bob", "viewer", 9.0)
    await pg.execute(q["grant"], "q", "bob", "worker", 9.5)
    assert [tuple(r) for r in await pg.fetch(q["granted"], "bob")] == [("q", "worker")]
    assert [r[0] for r in await pg.fetch(q["owned"], "bob")] == ["r"]
    assert len(await pg.fetch(q["grants"])) == len(await pg.fetch(q["queue_grants"], "q")) == 1
    assert await pg.execute(q["revoke_grant"], "q", "bob") == "DELETE 1"
    await pg.execute(q["add_secret"], "session", "aa")
    await pg.execute(q["add_secret"], "session", "bb")
    assert await pg.fetchval(q["get_secret"], "session") == "aa"
