"""How the CLI prints: tables that fit the terminal without cutting an id or a header, times
as ages ("3m ago"), and errors on stderr (as JSON with --json).

Text, never markup: names, messages and results may hold [brackets] (Rich's consoles are
`markup=False`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.cells import cell_len
from rich.console import Console, OverflowMethod
from rich.table import Table

out = Console(markup=False, highlight=False)
err = Console(markup=False, highlight=False, stderr=True)

GAP = 2  # spaces between two columns
FLEX_FLOOR = 10  # a column that may be cut keeps at least this much of its values


@dataclass(frozen=True, slots=True)
class Column:
    """A table's column. `whole`: its values are never cut (ids, states, counts, ages);
    else a long value is cut with an ellipsis (`cut`) or wrapped onto more lines. A column
    with `drop` > 0 goes when the terminal is too narrow for every column, highest first."""

    header: str
    whole: bool = False
    cut: bool = False
    drop: int = 0


def table(columns: Sequence[Column], rows: Sequence[Sequence[str]], console: Console = out) -> None:
    """Print `rows` under `columns`, as wide as the terminal allows: headers and `whole`
    values are never cut (a terminal too narrow even for those gets longer lines)."""
    cells = [[one_line(value) for value in row] for row in rows]
    natural = [
        max([cell_len(c.header), *(cell_len(row[i]) for row in cells)])
        for i, c in enumerate(columns)
    ]
    floors = [_floor(c, n) for c, n in zip(columns, natural, strict=True)]
    shown = _fitting(columns, floors, console.width)
    widths = _spread([natural[i] for i in shown], [floors[i] for i in shown], console.width)
    grid = Table(box=None, pad_edge=False, padding=(0, 1), header_style="bold")
    for i, width in zip(shown, widths, strict=True):
        column = columns[i]
        overflow: OverflowMethod = "ellipsis" if column.cut else "fold"
        no_wrap = column.whole or column.cut
        grid.add_column(column.header, width=width, no_wrap=no_wrap, overflow=overflow)
    for row in cells:
        grid.add_row(*(row[i] for i in shown))
    needed = sum(widths) + GAP * (len(widths) - 1)
    if needed > console.width:  # too narrow even for what is never cut: longer lines
        console = Console(markup=False, highlight=False, width=needed, file=console.file)
    console.print(grid)


def _floor(column: Column, natural: int) -> int:
    if column.whole:
        return natural
    return max(cell_len(column.header), min(natural, FLEX_FLOOR))


def _fitting(columns: Sequence[Column], floors: list[int], width: int) -> list[int]:
    """The indexes of the columns shown: all, less those dropped (highest `drop` first)
    until the rest fit in `width`."""
    shown = list(range(len(columns)))
    droppable = sorted((c.drop, i) for i, c in enumerate(columns) if c.drop > 0)
    while sum(floors[i] for i in shown) + GAP * (len(shown) - 1) > width and droppable:
        shown.remove(droppable.pop()[1])
    return shown


def _spread(natural: list[int], floors: list[int], width: int) -> list[int]:
    """Each column's width: its floor, plus what the terminal has left, shared out to the
    columns that want more (the narrowest wants first), never beyond what a column needs."""
    widths = list(floors)
    room = width - sum(widths) - GAP * (len(widths) - 1)
    wanting = sorted(range(len(widths)), key=lambda i: natural[i] - floors[i])
    for place, i in enumerate(wanting):
        if room <= 0:
            break
        share = room // (len(wanting) - place)
        more = min(natural[i] - widths[i], max(share, 1))
        widths[i] += more
        room -= more
    return widths


def one_line(value: str) -> str:
    """A value as one table line (the first line of a message, and a mark that more follow)."""
    first, _, rest = value.strip().partition("\n")
    return f"{first} …" if rest.strip() else first


# --- times ---


def moment(value: str | None) -> float | None:
    """UNIX seconds of an ISO 8601 time as the API renders it (None stays None)."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def ago(value: str | None, now: float | None = None) -> str:
    """An ISO time as an age ("3m ago") or, ahead, a countdown ("in 5m"); "-" for none."""
    at = moment(value)
    if at is None:
        return "-"
    delta = (time.time() if now is None else now) - at
    span = span_of(abs(delta))
    return f"{span} ago" if delta >= 0 else f"in {span}"


def span_of(seconds: float) -> str:
    """A length of time in its largest unit: 42s, 3m, 5h, 2d, 3y."""
    for unit, size, below in (("s", 1, 60), ("m", 60, 3600), ("h", 3600, 2 * 86400)):
        if seconds < below:
            return f"{int(seconds // size)}{unit}"
    if seconds < 365 * 86400:
        return f"{int(seconds // 86400)}d"
    return f"{int(seconds // (365 * 86400))}y"


def duration(start: str | None, end: str | None) -> str:
    """How long from `start` to `end` (to now while `end` is None): 1.25s, 3m 4s, 2h 5m."""
    begun = moment(start)
    if begun is None:
        return "-"
    seconds = max(0.0, (moment(end) or time.time()) - begun)
    if seconds < 60:
        return f"{seconds:.2f}s" if seconds < 10 else f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs}s"
    return f"{minutes // 60}h {minutes % 60}m"


def when(value: str | None) -> str:
    """A time in full, in UTC, with its age: 2026-05-01 12:00:03 UTC (3m ago)."""
    at = moment(value)
    if at is None:
        return "-"
    stamp = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{stamp} ({ago(value)})"


def count(n: int, capped: bool = False) -> str:
    return f"{n:,}+" if capped else f"{n:,}"


# --- errors ---


def error(
    message: str, code: str, as_json: bool, status: int | None = None, **details: Any
) -> None:
    """Print an error on stderr: a line and its details, or with `as_json` the native API's
    error document (plus the HTTP status when there was one)."""
    if as_json:
        body: dict[str, Any] = {"code": code, "message": message, "details": details}
        if status is not None:
            body["status"] = status
        print(json.dumps({"error": body}), file=err.file)
        return
    head = f"error: {message}" + (f" ({status} {code})" if status is not None else "")
    err.print(head, style="red", soft_wrap=True)
    for line in explain(details):
        err.print(f"  {line}", soft_wrap=True)


def explain(details: dict[str, Any]) -> list[str]:
    """An error's details as lines: each bad field with why, then every other detail
    (allowed values, limits) as `name: value`."""
    lines = []
    for bad in details.get("fields") or []:
        if isinstance(bad, dict):
            lines.append(f"{bad.get('field') or 'body'}: {bad.get('message', '')}")
    for name, value in details.items():
        if name == "fields":
            continue
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, dict):
            value = json.dumps(value)
        lines.append(f"{name.replace('_', ' ')}: {value}")
    return lines
