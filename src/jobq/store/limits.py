"""Flow limits in the stores: a queue's settings as written, and the room a limited claim has.

A queue with a flow limit is closed to the claim statements (its `paused` is set, as an
operator's pause sets it), so no statement tuned for speed can lease its jobs past the limit.
Its jobs are leased only by the limited claim, which runs first in a claim that names limited
queues: it takes each limited queue's row (PostgreSQL: locked, so claims of one queue on every
node take turns; SQLite has one writer), counts the queue's room (its concurrency less its
running jobs, its rate less the starts in its period), and leases the best queued jobs within
that room. The room is counted from the database inside the claim's transaction: a limit holds
across every node and interface, whatever any process remembers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from jobq.model import QueueChange, QueueLimits
from jobq.store.job_sql import JobSql


def setting_writes(sql: JobSql, queue: str, change: QueueChange, now: float) -> list[Any]:
    """The statements (with their parameters) that apply `change` to `queue`."""
    writes: list[Any] = []
    if change.paused is not None:
        writes.append((sql.set_paused, (queue, int(change.paused), now)))
    if change.limits is not None:
        lim = change.limits
        params = (queue, int(lim.any), lim.concurrency, lim.rate, lim.rate_period, now)
        writes.append((sql.set_limits, params))
    return writes


def room(limits: QueueLimits, running: int, started: int) -> int:
    """How many more jobs a queue may start now: its concurrency less its running jobs, its
    rate less its starts within the period (0 when either is used up)."""
    left: list[int] = []
    if limits.concurrency is not None:
        left.append(limits.concurrency - running)
    if limits.rate is not None:
        left.append(limits.rate - started)
    return max(0, min(left)) if left else 0


def rate_since(limits: QueueLimits, now: float) -> float | None:
    """The start of the window the rate counts starts in (None: no rate limit)."""
    if limits.rate is None or limits.rate_period is None:
        return None
    return now - limits.rate_period


def within_room(candidates: Iterable[Sequence[Any]], rooms: dict[str, int], want: int) -> list[int]:
    """The seqs to lease, best first: of (priority, seq, queue) candidates, the best `want`
    that leave each queue within its room."""
    chosen: list[int] = []
    taken: Counter[str] = Counter()
    for _, seq, queue in sorted(candidates, key=lambda c: (-c[0], c[1])):
        if len(chosen) == want:
            break
        if taken[queue] < rooms.get(queue, 0):
            taken[queue] += 1
            chosen.append(seq)
    return chosen
