"""The background duties and the problems read the few jobs they are about, never every
waiting job: one tenant's backlog of waiting jobs must not cost the server a scan each second.

On SQLite the work a statement does is counted in virtual machine steps (a progress handler
called every 100 steps), which does not depend on the machine's speed: each duty statement is
run over a backlog of 20,000 waiting jobs, none of them due, and must stay far below one step
per waiting job. On PostgreSQL the plans are read: no duty statement scans `jobs` whole."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobq.store.job_sql import POSTGRES, SQLITE
from jobq.store.postgres import reads as pg_reads
from jobq.store.postgres.sql import NEXT_DUE as PG_NEXT_DUE
from jobq.store.sqlite import SQLiteStore
from jobq.store.sqlite import reads as sqlite_reads
from tests import pgdb

BACKLOG = 20_000
NOW = time.time()
LATER = NOW + 86_400
# (name, SQLite statement, PostgreSQL statement, parameters): what the duties and the problems
# run on their own, whatever the requests
DUTIES: list[tuple[str, str, str, tuple[Any, ...]]] = [
    ("due_scheduled", SQLITE.due_scheduled, POSTGRES.due_scheduled, (NOW, 100)),
    ("overdue", SQLITE.overdue, POSTGRES.overdue, (NOW, 100)),
    ("due_purge", SQLITE.due_purge, POSTGRES.due_purge, (NOW, 100)),
    ("failing_jobs", SQLITE.failing_jobs, POSTGRES.failing_jobs, (3, 100)),
    ("deadlines_before", SQLITE.deadlines_before, POSTGRES.deadlines_before, (LATER, 100)),
    ("next_due", sqlite_reads.NEXT_DUE, PG_NEXT_DUE, ()),
]
# the problems of the other tenant's queue only: its own jobs, not the backlog
AMONG: list[tuple[str, str, str, tuple[Any, ...]]] = [
    ("failing_among", sqlite_reads.FAILING_AMONG, pg_reads.FAILING_AMONG, (3, 100)),
    ("deadlines_among", sqlite_reads.DEADLINES_AMONG, pg_reads.DEADLINES_AMONG, (LATER, 100)),
]


def _rows(n: int) -> Iterator[tuple[Any, ...]]:
    """`n` waiting jobs of one tenant, in 100 queues, with no deadline and no error."""
    for i in range(n):
        yield (str(uuid.uuid4()), f"backlog-{i % 100}", "t", "queued", NOW, NOW, NOW)


INSERT = (
    "INSERT INTO jobs (id, queue, type, state, run_at, lease_seconds, max_attempts, "
    "backoff_base, backoff_max, attempt, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, 60, 3, 2, 3600, 0, ?, ?)"
)


@pytest.fixture(scope="module")
def backlog_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("duties") / "jobq.db"

    async def migrate() -> None:
        store = SQLiteStore(str(path))
        await store.open()
        await store.close()

    asyncio.run(migrate())
    with sqlite3.connect(path) as conn:
        conn.executemany(INSERT, _rows(BACKLOG))
    return path


def _steps(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> int:
    """How many hundreds of virtual machine steps `sql` takes to run to its end."""
    count = 0

    def step() -> int:
        nonlocal count
        count += 1
        return 0

    conn.set_progress_handler(step, 100)
    try:
        conn.execute(sql, params).fetchall()
    finally:
        conn.set_progress_handler(None, 100)
    return count


@pytest.mark.parametrize(("name", "sql", "_pg", "params"), DUTIES, ids=[d[0] for d in DUTIES])
def test_a_duty_reads_the_jobs_it_is_about_not_the_backlog(
    backlog_db: Path, name: str, sql: str, _pg: str, params: tuple[Any, ...]
) -> None:
    with sqlite3.connect(backlog_db) as conn:
        hundreds = _steps(conn, sql, params)
    # a scan of the backlog is several steps per job: BACKLOG / 100 hundreds and more
    assert hundreds < BACKLOG / 1000, f"{name}: {hundreds * 100} steps over {BACKLOG} jobs"


@pytest.mark.parametrize(("name", "sql", "_pg", "params"), AMONG, ids=[d[0] for d in AMONG])
def test_the_problems_of_one_tenant_read_its_jobs_only(
    backlog_db: Path, name: str, sql: str, _pg: str, params: tuple[Any, ...]
) -> None:
    with sqlite3.connect(backlog_db) as conn:
        hundreds = _steps(conn, sql, (json.dumps(["other-tenant"]), *params))
    assert hundreds < BACKLOG / 1000, f"{name}: {hundreds * 100} steps over {BACKLOG} jobs"


def _plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


async def _pg_plans(statements: list[tuple[str, str, tuple[Any, ...]]]) -> dict[str, list[str]]:
    """Each statement's scans of `jobs` ("Seq Scan", or an index's name), on a database holding
    the backlog, analysed as autovacuum would."""
    import asyncpg

    url = await pgdb.create_database()
    conn = await asyncpg.connect(url)
    try:
        await conn.executemany(
            INSERT.replace("?", "${}").format(*range(1, 8)), list(_rows(BACKLOG))
        )
        await conn.execute("ANALYZE jobs")
        found = {}
        for name, sql, params in statements:
            got = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *params)
            nodes = _plan_nodes(json.loads(got)[0]["Plan"])
            found[name] = [
                n.get("Index Name", n["Node Type"])
                for n in nodes
                if n.get("Relation Name") == "jobs"
            ]
        return found
    finally:
        await conn.close()
        await pgdb.drop_database(url)


async def test_on_postgresql_no_duty_scans_the_jobs_table() -> None:
    statements = [(name, pg, params) for name, _, pg, params in DUTIES]
    statements += [(name, pg, (["other-tenant"], *params)) for name, _, pg, params in AMONG]
    plans = await _pg_plans(statements)
    scans = {name: found for name, found in plans.items() if "Seq Scan" in found}
    assert not scans, scans
    assert all(plans.values()), plans  # each statement reads jobs through some index
