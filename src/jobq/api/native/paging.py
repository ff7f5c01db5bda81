"""Pages of a job listing: keyset cursors both ways.

A cursor is opaque base64 of `[sort, value, seq]` (the sort it was issued for, and the last
row's sort value and seq) or `[sort, value, seq, "before"]` for the page before a row. The
page before is read in the opposite order from that row and turned round; when fewer than a
page lie before it, the answer is the first page (so "previous" always shows a full page and
ends on the first). Every page costs its own rows, whichever way it goes.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

import orjson

from jobq import fields
from jobq.engine import Engine
from jobq.errors import InvalidInput
from jobq.model import Job, JobQuery

BEFORE = "before"


async def page(engine: Engine, query: JobQuery, sort: str, cursor: str | None) -> dict[str, Any]:
    """The jobs of the page `cursor` names (the first without one), and the cursors of the
    pages after and before it (None where there is none)."""
    if cursor is None:
        jobs = await engine.list_jobs(query)
        return _answer(jobs, query, sort, has_before=False)
    value, seq, backward = decode(cursor, sort)
    if not backward:
        jobs = await engine.list_jobs(replace(query, after=(value, seq)))
        return _answer(jobs, query, sort, has_before=bool(jobs))
    back = replace(query, descending=not query.descending, after=(value, seq))
    back.limit = query.limit + 1
    rows = await engine.list_jobs(back)
    if len(rows) <= query.limit:  # the first page is reached
        return await page(engine, query, sort, None)
    jobs = rows[: query.limit][::-1]
    return {
        "jobs": jobs,
        "next_cursor": encode(jobs[-1], query, sort),
        "prev_cursor": encode(jobs[0], query, sort, BEFORE),
    }


def _answer(jobs: list[Job], query: JobQuery, sort: str, has_before: bool) -> dict[str, Any]:
    full = len(jobs) == query.limit
    return {
        "jobs": jobs,
        "next_cursor": encode(jobs[-1], query, sort) if full else None,
        "prev_cursor": encode(jobs[0], query, sort, BEFORE) if has_before else None,
    }


def encode(job: Job, query: JobQuery, sort: str, *direction: str) -> str:
    value = getattr(job, query.sort) or 0
    raw = orjson.dumps([sort, value, job.seq, *direction])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, sort: str) -> tuple[Any, int, bool]:
    """(sort value, seq, whether it asks for the page before)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_sort, value, seq, *direction = orjson.loads(raw)
        if not isinstance(seq, int) or not isinstance(value, int | float):
            raise ValueError
        if max(abs(seq), abs(value)) > fields.SEQ_MAX or direction not in ([], [BEFORE]):
            raise ValueError
    except (ValueError, TypeError):
        raise InvalidInput("the cursor is not one this server issued", cursor=cursor) from None
    if cursor_sort != sort:
        raise InvalidInput("the cursor belongs to a listing with another sort", sort=sort)
    return value, seq, bool(direction)
