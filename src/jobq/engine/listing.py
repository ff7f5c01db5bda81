"""Listings whose filter or order depends on more than a job's row.

A job's row is the store's to filter, order and page (`JobQuery`). What an interface may also
show of a job (whether a problem holds it, whether its queue is paused) is the engine's to
tell: a `Situation` is a job in that light, the neutral view an interface maps its own names
onto. A `Scan` filters and orders situations; `Reads.listing` pages the jobs a query matches,
through the store alone when there is no scan, else by scanning the newest SCAN_LIMIT
candidates the store filtered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from jobq.engine.problems import Problem
from jobq.model import Job

SCAN_LIMIT = 10_000  # candidates a scan looks at (newest first); hits are counted up to it


@dataclass(frozen=True, slots=True)
class Situation:
    """A job, the problems that hold it (none unless it waits), and whether its queue is
    paused."""

    job: Job
    held_by: tuple[Problem, ...] = ()
    paused: bool = False


Key = Callable[[Situation], Any]


@dataclass(frozen=True, slots=True)
class Scan:
    """What the store cannot do: `keep` filters, `order` sorts ((key, descending), the most
    significant first; none: newest first)."""

    keep: Callable[[Situation], bool]
    order: Sequence[tuple[Key, bool]] = ()


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing; `hits` counts every match, up to SCAN_LIMIT."""

    hits: int
    situations: list[Situation]


def refine(candidates: list[Situation], scan: Scan, first: int, number: int) -> Page:
    """The `number` situations from `first` (0-based) of those `scan` keeps, in its order."""
    kept = [s for s in candidates if scan.keep(s)]
    for key, descending in reversed(scan.order):
        kept.sort(key=key, reverse=descending)
    return Page(len(kept), kept[first : first + number])
