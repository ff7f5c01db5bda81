"""The SQLite writer's group commit: operations share a transaction, a failing one is undone
alone, and a lone operation's failure leaves nothing behind."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from jobq.store.sqlite.conn import GroupCommitter, _run_group, connect, migrate


@pytest.fixture
def writer(tmp_path: Path):
    committer = GroupCommitter(str(tmp_path / "w.db"), cache_kib=2048)
    committer.start()
    yield committer
    committer.stop()


def insert(name: str):
    def op(c: sqlite3.Connection) -> str:
        c.execute("INSERT INTO queues (name, paused, updated_at) VALUES (?, 0, 0)", (name,))
        return name

    return op


def insert_then_fail(name: str):
    def op(c: sqlite3.Connection) -> None:
        insert(name)(c)
        raise ValueError(f"{name} refused")

    return op


def names(tmp_path: Path) -> set[str]:
    with sqlite3.connect(tmp_path / "w.db") as c:
        return {name for (name,) in c.execute("SELECT name FROM queues")}


async def test_a_lone_failing_operation_leaves_nothing_and_raises(writer, tmp_path):
    with pytest.raises(ValueError, match="lonely refused"):
        await writer.submit(insert_then_fail("lonely"))
    assert names(tmp_path) == set()
    assert await writer.submit(insert("after")) == "after"
    assert names(tmp_path) == {"after"}


async def test_a_failing_operation_in_a_group_is_undone_alone(writer, tmp_path):
    # submitted without awaiting in between: the writer takes them as one group (or more)
    futures = [
        writer.submit(insert("a")),
        writer.submit(insert_then_fail("bad")),
        writer.submit(insert("b")),
    ]
    results = await asyncio.gather(*futures, return_exceptions=True)
    assert results[0] == "a" and results[2] == "b"
    assert isinstance(results[1], ValueError)
    assert names(tmp_path) == {"a", "b"}


def test_a_group_with_a_failure_runs_again_in_savepoints(tmp_path):
    conn = connect(str(tmp_path / "g.db"), cache_kib=2048)
    migrate(conn)
    outcomes = _run_group(conn, [insert("a"), insert_then_fail("bad"), insert("b")])
    assert [ok for ok, _ in outcomes] == [True, False, True]
    assert outcomes[0][1] == "a" and isinstance(outcomes[1][1], ValueError)
    assert {n for (n,) in conn.execute("SELECT name FROM queues")} == {"a", "b"}
    assert not conn.in_transaction
    conn.close()
