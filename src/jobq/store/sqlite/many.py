"""Many rows in few SQLite statements.

Python's sqlite3 releases the GIL around every `sqlite3_step`, and `executemany` steps once
per row. The writer thread then has to win the GIL back from the event loop after each row,
which under load means waiting for the loop to block or for the switch interval to pass
(measured beside a thread busy in Python: 100-row inserts by executemany took ~5.7 ms of wall
time per row, as multi-row statements ~0.55 ms; ~15 us either way alone). So
rows go in as multi-row statements: `INSERT ... VALUES (...), (...), ...` and
`UPDATE ... FROM (VALUES ...)`, one step per statement. The row counts per statement are
powers of two (at most `LARGEST`), so a table sees a handful of distinct statements and
SQLite's statement cache keeps them all prepared.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

LARGEST = 64  # rows per statement (x ~20 columns: far below SQLite's variable limit)


def _run_in_chunks(
    c: sqlite3.Connection, sql_for: Callable[[int], str], rows: Sequence[Sequence[Any]]
) -> int:
    """Run `sql_for(n)` (a statement taking n rows' parameters one row after another) over
    `rows` in chunks of powers of two; the number of rows changed."""
    changed = 0
    at = 0
    while at < len(rows):
        size = _chunk(len(rows) - at)
        params = [value for row in rows[at : at + size] for value in row]
        changed += c.execute(sql_for(size), params).rowcount
        at += size
    return changed


def _chunk(left: int) -> int:
    size = LARGEST
    while size > left:
        size //= 2
    return size


@lru_cache(maxsize=256)
def _values(width: int, rows: int) -> str:
    """`(?, ?), (?, ?)`: `rows` rows of `width` parameters."""
    row = "(" + ", ".join("?" * width) + ")"
    return ", ".join([row] * rows)


def insert_rows(
    c: sqlite3.Connection, head: str, width: int, rows: Sequence[Sequence[Any]], tail: str = ""
) -> int:
    """`head VALUES (...), ... tail` over `rows` of `width` values each; rows inserted."""
    return _run_in_chunks(c, lambda n: _insert_sql(head, width, n, tail), rows)


@lru_cache(maxsize=256)
def _insert_sql(head: str, width: int, rows: int, tail: str) -> str:
    return f"{head} VALUES {_values(width, rows)} {tail}"


def update_rows(
    c: sqlite3.Connection,
    table: str,
    columns: Sequence[str],
    keys: Sequence[str],
    rows: Sequence[Sequence[Any]],
    where: str = "",
) -> int:
    """Set `columns` of the `table` rows matching `keys`, one row of `rows` each (the column
    values, then the key values), with `UPDATE ... FROM (VALUES ...)`; `where`: a further
    condition on the table's row. The number of rows changed."""
    shape = (table, tuple(columns), tuple(keys), where)
    return _run_in_chunks(c, lambda n: _update_sql(*shape, n), rows)


@lru_cache(maxsize=256)
def _update_sql(
    table: str, columns: tuple[str, ...], keys: tuple[str, ...], where: str, rows: int
) -> str:
    extra = [where] if where else []
    if rows == 1:  # a plain UPDATE: cheaper to plan than a join with one row
        sets = ", ".join(f"{name} = ?" for name in columns)
        keyed = " AND ".join([f"{table}.{key} = ?" for key in keys] + extra)
        return f"UPDATE {table} SET {sets} WHERE {keyed}"
    sets = ", ".join(f"{name} = v.column{i}" for i, name in enumerate(columns, 1))
    match = [f"{table}.{key} = v.column{i}" for i, key in enumerate(keys, len(columns) + 1)]
    width = len(columns) + len(keys)
    return (
        f"UPDATE {table} SET {sets} FROM (VALUES {_values(width, rows)}) AS v "
        f"WHERE {' AND '.join(match + extra)}"
    )
