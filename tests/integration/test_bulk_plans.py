"""An operation's page reads its own lane only, whatever the other queues hold: the plan is the
contract here (a page of a small tenant's queue must not walk a big tenant's jobs)."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg

from jobq.store.operations import SQLITE_OPS
from jobq.store.postgres.operations import LANE_OF_QUEUE, LANE_OF_STATE
from jobq.store.sqlite.conn import connect, migrate
from tests import pgdb

FILL = """
INSERT INTO jobs (id, queue, type, payload, state, run_at, lease_seconds, max_attempts,
                  backoff_base, backoff_max, created_at, updated_at)
SELECT 'j' || g, CASE WHEN g % 1000 = 0 THEN 'small' ELSE 'big' END, 't', '1',
       CASE WHEN g % 3 = 0 THEN 'succeeded' ELSE 'failed' END, 1, 60, 3, 2, 3600, 1, 1
FROM generate_series(1, 100000) AS g"""


def nodes(plan: dict) -> list[dict]:
    found = [plan]
    for child in plan.get("Plans", []):
        found += nodes(child)
    return found


async def test_postgres_pages_keep_to_the_lane_index_in_generic_plans() -> None:
    url = await pgdb.create_database()
    c = await asyncpg.connect(url)
    try:
        await c.execute(FILL)
        await c.execute("ANALYZE jobs")
        await c.execute("SET plan_cache_mode = force_generic_plan")
        await c.execute(f"PREPARE lq(text, text, bigint, bigint, int) AS {LANE_OF_QUEUE}")
        await c.execute(f"PREPARE ls(text, bigint, bigint, int) AS {LANE_OF_STATE}")
        for call, limit in (
            ("lq('small', 'failed', 0, 100000, 50)", 50),
            ("lq('small', 'failed', 50000, 100000, 50)", 50),
            ("lq('big', 'failed', 1000, 100000, 50)", 50),
            ("ls('succeeded', 90000, 100000, 50)", 50),
        ):
            raw = await c.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE {call}")
            plan = json.loads(raw)[0]["Plan"]
            scans = [n for n in nodes(plan) if "Scan" in n["Node Type"]]
            wanted = "jobs_state" if call.startswith("ls") else "jobs_queue_state"
            assert [n.get("Index Name") for n in scans] == [wanted], (call, scans)
            for n in scans:
                assert n["Actual Rows"] <= limit, (call, n)
                assert n.get("Rows Removed by Filter", 0) == 0, (call, n)
    finally:
        await c.close()
        await pgdb.drop_database(url)


def test_sqlite_pages_are_a_range_of_the_lane_index(tmp_path: Path) -> None:
    conn = connect(str(tmp_path / "plans.db"), cache_kib=1024)
    try:
        migrate(conn)
        for sql, params, index in (
            (SQLITE_OPS.lane_of_queue, ("q", "failed", 1, 2, 3), "jobs_queue_state"),
            (SQLITE_OPS.lane_of_state, ("failed", 1, 2, 3), "jobs_state"),
        ):
            [row] = conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
            assert f"INDEX {index} (" in row[3] and "seq>?" in row[3], row
    finally:
        conn.close()
