"""The CLI's tables and times (jobq.cli.output), at any terminal width."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from jobq.cli.output import Column, ago, span_of, table

ID = "01a2524f-bb62-758d-b331-5cbdf3502b81"
COLUMNS = (
    Column("id", whole=True),
    Column("queue"),
    Column("type", drop=1),
    Column("error", cut=True),
)
ROW = (ID, "a-queue-with-a-long-name", "render", "ValueError: " + "x" * 200)


def printed(width: int) -> list[str]:
    console = Console(file=io.StringIO(), width=width, markup=False)
    table(COLUMNS, [ROW], console)
    return console.file.getvalue().splitlines()  # type: ignore[attr-defined]


@pytest.mark.parametrize("width", [30, 60, 80, 120, 300])
def test_an_id_and_the_headers_are_never_cut(width: int):
    lines = printed(width)
    assert ID in lines[1]
    assert lines[0].split()[:2] == ["id", "queue"] and "…" not in lines[0]
    if width >= 60:
        assert max(len(line) for line in lines) <= width


def test_optional_columns_go_first_and_free_text_is_cut_not_wrapped():
    narrow, wide = printed(60), printed(300)
    assert "type" not in narrow[0].split() and "type" in wide[0].split()
    assert narrow[1].rstrip().endswith("…") and "xxxx" not in "".join(narrow)
    assert "".join(line[38:48].strip() for line in narrow[1:]) == ROW[1]  # folded, whole
    assert ROW[3] in wide[1] and ROW[1] in wide[1]


def test_ages_read_as_ages():
    assert [span_of(s) for s in (5, 61, 3 * 3600, 3 * 86400, 800 * 86400)] == [
        "5s",
        "1m",
        "3h",
        "3d",
        "2y",
    ]
    assert ago("2026-01-01T00:00:00Z", now=1767225600 + 190) == "3m ago"
    assert ago("2026-01-01T00:05:00Z", now=1767225600) == "in 5m"
    assert ago(None) == "-"
