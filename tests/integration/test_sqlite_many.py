"""Many rows in few statements (jobq.store.sqlite.many), on a real SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from jobq.store.sqlite import many as sqlite_many
from jobq.store.sqlite.many import insert_rows, update_rows


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    c = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    c.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, k TEXT, n INTEGER, v TEXT, "
              "UNIQUE (k, n))")  # fmt: skip
    return c


class Counting:
    """A connection that counts the statements run through it."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.statements: list[str] = []

    def execute(self, sql: str, params: list[object]) -> sqlite3.Cursor:
        self.statements.append(sql)
        return self.conn.execute(sql, params)


@pytest.mark.parametrize("count", [0, 1, 2, 63, 64, 65, 100, 200])
def test_inserts_every_row_in_order(conn: sqlite3.Connection, count: int) -> None:
    rows = [(f"k{i}", i, f"v{i}") for i in range(count)]
    counting = Counting(conn)
    assert insert_rows(counting, "INSERT INTO t (k, n, v)", 3, rows) == count  # type: ignore[arg-type]
    stored = conn.execute("SELECT k, n, v FROM t ORDER BY seq").fetchall()
    assert stored == rows
    # powers of two, at most LARGEST rows each: 100 rows are 64 + 32 + 4
    assert len(counting.statements) == _chunks(count)


def _chunks(count: int) -> int:
    full, rest = divmod(count, sqlite_many.LARGEST)
    return full + bin(rest).count("1")


def test_insert_tail_applies_to_every_chunk(conn: sqlite3.Connection) -> None:
    insert_rows(conn, "INSERT INTO t (k, n, v)", 3, [("a", i, "old") for i in range(70)])
    again = [("a", i, "new") for i in range(70)]
    tail = "ON CONFLICT (k, n) DO UPDATE SET v = excluded.v"
    insert_rows(conn, "INSERT INTO t (k, n, v)", 3, again, tail)
    assert conn.execute("SELECT count(*), min(v), max(v) FROM t").fetchone() == (70, "new", "new")


@pytest.mark.parametrize("count", [1, 3, 64, 100])
def test_updates_match_on_keys_and_count_changes(conn: sqlite3.Connection, count: int) -> None:
    insert_rows(conn, "INSERT INTO t (k, n, v)", 3, [("a", i, "x") for i in range(count + 5)])
    rows = [(f"v{i}", "a", i) for i in range(count)]
    assert update_rows(conn, "t", ["v"], ["k", "n"], rows) == count
    stored = dict(conn.execute("SELECT n, v FROM t").fetchall())
    assert all(stored[i] == f"v{i}" for i in range(count))
    assert all(stored[i] == "x" for i in range(count, count + 5))  # untouched


def test_update_where_limits_the_rows(conn: sqlite3.Connection) -> None:
    insert_rows(conn, "INSERT INTO t (k, n, v)", 3, [("a", 1, "x"), ("a", 2, "y"), ("a", 3, "x")])
    rows = [("z", "a", 1), ("z", "a", 2), ("z", "a", 3)]
    assert update_rows(conn, "t", ["v"], ["k", "n"], rows, where="t.v = 'x'") == 2
    assert update_rows(conn, "t", ["v"], ["k", "n"], rows[1:2], where="t.v = 'x'") == 0
    stored = conn.execute("SELECT v FROM t ORDER BY n").fetchall()
    assert stored == [("z",), ("y",), ("z",)]


def test_nothing_to_write_runs_nothing(conn: sqlite3.Connection) -> None:
    counting = Counting(conn)
    assert update_rows(counting, "t", ["v"], ["k"], []) == 0  # type: ignore[arg-type]
    assert insert_rows(counting, "INSERT INTO t (k, n, v)", 3, []) == 0  # type: ignore[arg-type]
    assert counting.statements == []
