"""A migrated database equals a fresh one, for SQLite as for PostgreSQL.

Fresh: every migration applied in one run of the migrator (a new installation). Lived: jobs
written at version 1, then each migration applied by its own run (an installation upgraded
release by release, one `jobq serve` start per version). Both must have the same schema
(tables, columns, indexes, constraints, functions), and the old jobs must still read and be
claimed at the newest version: a migration that only works on an empty table fails here.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from jobq.model import ClaimSpec, Job, Worker
from jobq.store.base import Store
from jobq.store.rows import INSERT_COLUMNS, job_values
from jobq.store.sqlite import SQLiteStore
from jobq.store.sqlite.conn import connect, migrate
from tests import pgdb

SQLITE_MIGRATIONS = Path(__file__).parents[2] / "src/jobq/store/sqlite/migrations"
OLD_JOBS = [Job(id=f"old-{i}", queue="a", type="t", payload={"n": i}) for i in range(2)]


def versions(folder: Path) -> list[int]:
    return sorted(int(p.name.split("_", 1)[0]) for p in folder.glob("*.sql"))


def row_of(job: Job, columns: list[str]) -> tuple[list[str], list[Any]]:
    """The job's values for those of `columns` the jobs table has at an old version."""
    values = dict(zip(INSERT_COLUMNS, job_values(job), strict=True))
    kept = [c for c in INSERT_COLUMNS if c in columns]
    return kept, [values[c] for c in kept]


async def assert_old_jobs_serve(store: Store) -> None:
    await store.open()
    try:
        for old in OLD_JOBS:
            job = await store.get(old.id)
            assert job is not None and (job.queue, job.payload) == (old.queue, old.payload)
        spec = ClaimSpec(["a"], None, 10, 30.0, Worker("w"))
        claimed = await store.claim(spec, "lease", 1000.0)
        assert sorted(j.id for j in claimed) == [j.id for j in OLD_JOBS]
    finally:
        await store.close()


# --- SQLite ---


def sqlite_schema(path: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        objects = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        ).fetchall()
        done = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    finally:
        conn.close()
    return objects + done


def sqlite_lived(path: Path) -> None:
    """Jobs written at version 1, then each later version reached by its own start."""
    for version in versions(SQLITE_MIGRATIONS):
        conn = connect(str(path), cache_kib=1024)
        try:
            assert migrate(conn, upto=version) == [version]
            if version == 1:
                columns = [r[1] for r in conn.execute("PRAGMA table_info(jobs)")]
                for job in OLD_JOBS:
                    names, values = row_of(job, columns)
                    marks = ", ".join("?" * len(names))
                    conn.execute(f"INSERT INTO jobs ({', '.join(names)}) VALUES ({marks})", values)
        finally:
            conn.close()


async def test_sqlite_a_migrated_database_equals_a_fresh_one(tmp_path: Path) -> None:
    fresh, lived = tmp_path / "fresh.db", tmp_path / "lived.db"
    conn = connect(str(fresh), cache_kib=1024)
    try:
        assert migrate(conn) == versions(SQLITE_MIGRATIONS)
    finally:
        conn.close()
    sqlite_lived(lived)
    conn = connect(str(lived), cache_kib=1024)
    try:
        assert migrate(conn) == []  # re-running is a no-op
    finally:
        conn.close()
    assert sqlite_schema(fresh) == sqlite_schema(lived)
    assert any(o[1] == "jobs_claim" for o in sqlite_schema(fresh))
    await assert_old_jobs_serve(SQLiteStore(str(lived)))


# --- PostgreSQL ---


async def postgres_schema(url: str) -> dict[str, list[tuple[Any, ...]]]:
    asyncpg = pytest.importorskip("asyncpg")
    conn = await asyncpg.connect(url)
    try:
        columns = await conn.fetch(
            "SELECT table_name, column_name, data_type, is_nullable, column_default, "
            "is_identity FROM information_schema.columns WHERE table_schema = 'public' "
            "AND table_name <> 'schema_migrations' ORDER BY table_name, ordinal_position"
        )
        indexes = await conn.fetch(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
            "ORDER BY indexname"
        )
        constraints = await conn.fetch(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY conname"
        )
        functions = await conn.fetch(
            "SELECT proname, proconfig, md5(prosrc) FROM pg_proc "
            "WHERE pronamespace = 'public'::regnamespace ORDER BY proname"
        )
    finally:
        await conn.close()
    return {
        "columns": [tuple(r) for r in columns],
        "indexes": [tuple(r) for r in indexes],
        "constraints": [tuple(r) for r in constraints],
        "functions": [tuple(r) for r in functions],
    }


async def postgres_lived(url: str) -> None:
    """Jobs written at version 1, then each later version reached by its own start."""
    asyncpg = pytest.importorskip("asyncpg")
    from jobq.store.postgres.conn import migrate_url, migration_files

    for version, _, _ in migration_files():  # numbers may skip (branches take blocks)
        assert await migrate_url(url, upto=version) == [version]
        if version == 1:
            conn = await asyncpg.connect(url)
            try:
                found = await conn.fetch(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = 'jobs'"
                )
                columns = [r[0] for r in found]
                for job in OLD_JOBS:
                    names, values = row_of(job, columns)
                    marks = ", ".join(f"${i}" for i in range(1, len(names) + 1))
                    await conn.execute(
                        f"INSERT INTO jobs ({', '.join(names)}) VALUES ({marks})", *values
                    )
            finally:
                await conn.close()


async def test_postgres_a_migrated_database_equals_a_fresh_one() -> None:
    pytest.importorskip("asyncpg")
    from jobq.store.postgres import PostgresStore
    from jobq.store.postgres.conn import migrate_url

    fresh = await pgdb.create_database()  # the template: every migration in one run
    lived = await pgdb.create_database(migrated=False)
    try:
        await postgres_lived(lived)
        assert await migrate_url(lived) == []  # re-running is a no-op
        schema = await postgres_schema(fresh)
        assert schema == await postgres_schema(lived)
        claim_index = [i[2] for i in schema["indexes"] if i[1] == "jobs_claim"]
        assert claim_index and "WHERE (state = 'queued'" in claim_index[0]
        await assert_old_jobs_serve(PostgresStore(lived))
    finally:
        await pgdb.drop_database(fresh)
        await pgdb.drop_database(lived)
