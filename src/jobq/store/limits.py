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

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from jobq.model import QueueChange, QueueLimits
from jobq.store.job_sql import JobSql
from jobq.store.rows import dumps


def setting_writes(sql: JobSql, queue: str, change: QueueChange, now: float) -> list[Any]:
    """The statements (with their parameters) that apply `change` to `queue`; a queue made
    keyed has its unkeyed live jobs share the key '' and each live key seated in the turns."""
    writes: list[Any] = []
    if change.paused is not None:
        writes.append((sql.set_paused, (queue, int(change.paused), now)))
    if change.limits is not None:
        lim = change.limits
        params = (queue, int(lim.any), lim.concurrency, lim.rate, lim.rate_period, now)
        weights = dumps(dict(lim.weights)) if lim.weights else None
        keys = (lim.per_key, lim.aging, weights, lim.key_rate, lim.key_rate_period)
        writes.append((sql.set_limits, (*params, *keys)))
        if lim.keyed:
            writes += [(sql.key_the_unkeyed, (queue,)), (sql.seat_live_keys, (queue,))]
        else:
            writes.append((sql.forget_keys, (queue,)))
    return writes


def room(limits: QueueLimits, running: int, started: int, ceiling: int) -> int:
    """How many more jobs a queue may start now, at most `ceiling`: its concurrency less its
    running jobs, its rate less its starts within the period (0 when either is used up)."""
    left = [ceiling]
    if limits.concurrency is not None:
        left.append(limits.concurrency - running)
    if limits.rate is not None:
        left.append(limits.rate - started)
    return max(0, min(left))


# A rate counts the starts of its period in SLOTS slots: the slots the period reaches into are
# counted whole, so a count may hold starts a little older than the period (fewer starts are
# let through, never more), and a queue keeps at most SLOTS + 1 rows of starts, however high
# its rate.
SLOTS = 64


def window_since(period: float, now: float) -> float:
    """The start of the oldest slot a rate of `period` counts: slots from after this time
    hold every start of the last period."""
    return now - period - period / SLOTS


def forget_before(since: float, period: float) -> float:
    """The slots a claim may delete: a period older than the oldest it counts, so that a claim
    whose `now` is a little behind another's still finds every slot it counts."""
    return since - period


def slot_at(period: float, now: float) -> float:
    """The start of the slot a start at `now` is counted in, for a rate of `period`."""
    width = period / SLOTS
    return math.floor(now / width) * width


def rate_since(limits: QueueLimits, now: float) -> float | None:
    """The oldest slot the queue's rate counts (None: no rate limit)."""
    if limits.rate is None or limits.rate_period is None:
        return None
    return window_since(limits.rate_period, now)


def rate_slot(limits: QueueLimits, now: float) -> float:
    return slot_at(limits.rate_period or 1.0, now)


def key_rate_since(limits: QueueLimits, now: float) -> float | None:
    """The oldest slot the queue's per-key rate counts (None: no per-key rate)."""
    if limits.key_rate is None or limits.key_rate_period is None:
        return None
    return window_since(limits.key_rate_period, now)


Candidate = tuple[tuple[int, ...], int, str]  # (order, seq, queue): the lowest order goes first


def within_room(candidates: Iterable[Candidate], rooms: dict[str, int], want: int) -> list[int]:
    """The seqs to lease, best first: the first `want` candidates in order that leave each
    queue within its room."""
    chosen: list[int] = []
    taken: Counter[str] = Counter()
    for _, seq, queue in sorted(candidates, key=lambda c: c[0]):
        if len(chosen) == want:
            break
        if taken[queue] < rooms.get(queue, 0) and seq not in chosen:
            taken[queue] += 1
            chosen.append(seq)
    return chosen


def ranked(rows: Iterable[Sequence[Any]]) -> list[Candidate]:
    """(priority, seq, queue) rows as candidates: the highest priority, then the oldest."""
    return [((-priority, seq), seq, queue) for priority, seq, queue in rows]


OVERDUE = -(2**62)  # the order of a job waiting longer than its queue's aging: before all


def aged(rows: Iterable[Sequence[Any]], queue: str, since: float) -> list[Candidate]:
    """Of a queue's oldest queued jobs, (priority, seq, run_at) rows, those due since before
    `since` (waiting longer than the queue's aging) as candidates before any priority, the
    oldest first."""
    return [((OVERDUE, seq), seq, queue) for _, seq, run_at in rows if run_at <= since]


# --- keyed queues: keys take turns, each within its per_key limit ---

KEY_WINDOW = 32  # keys a keyed claim looks at beyond the jobs it wants
HEAD_WINDOW = 64  # queued jobs a short keyed claim mends at the head of its queue
UNKEYED = ""  # the key of a keyed queue's jobs without one: no per-key limit


@dataclass(slots=True)
class KeyProbe:
    """One key of a keyed queue as a claim found it: its running jobs, its best queued jobs
    (priority, seq) that fit its per-key room, whether it has any live job, and the jobs it
    was given in its current turn."""

    key: str
    running: int
    heads: list[tuple[int, int]]
    live: bool
    served: int = 0


@dataclass(slots=True)
class KeyedChoice:
    weights: dict[str, int]
    candidates: list[Candidate] = field(default_factory=list)
    key_of: dict[int, str] = field(default_factory=dict)  # a candidate's key, by seq
    served: dict[str, int] = field(default_factory=dict)  # jobs given in its turn before
    passed: list[str] = field(default_factory=list)  # full or without a queued job: to the back
    gone: list[str] = field(default_factory=list)  # without a live job: out of the turns


def key_room(lim: QueueLimits, key: str, running: int, started: int, want: int, share: int) -> int:
    """How many of a key's queued jobs a claim wanting `want` reads: within the key's room
    (its per_key less its `running` jobs, its key_rate less its `started` ones; the key ''
    has no such limits), and no more than its `share` (key_share) of the claim."""
    room = [want, share]
    if key != UNKEYED and lim.per_key is not None:
        room.append(lim.per_key - running)
    if key != UNKEYED and lim.key_rate is not None:
        room.append(lim.key_rate - started)
    return max(0, min(room))


def key_share(want: int, keys: int, weight: int) -> int:
    """The most jobs of one key (of `weight`) a claim wanting `want` from `keys` keys can
    take, the keys taking turns: a round more than an even share, in its weight's worth."""
    return (-(-want // max(keys, 1)) + 1) * weight


def choose_keys(
    queue: str, probes: Iterable[KeyProbe], want: int, weights: dict[str, int]
) -> KeyedChoice:
    """The candidates of a keyed queue by rounds of the keys' turns: within a priority, each
    key gives its weight's worth of its best jobs (1 unless weighted; less what it gave in its
    turn already) in the order the keys come, then again, until `want` are found."""
    choice = KeyedChoice(weights)
    first_round = 0  # candidates of the first round: those no later key comes before
    for turn, probe in enumerate(probes):
        if first_round >= want:
            break
        if not probe.heads:
            (choice.passed if probe.live else choice.gone).append(probe.key)
            continue
        weight = weights.get(probe.key, 1)
        first = max(weight - probe.served, 1)  # what is left of its turn
        choice.served[probe.key] = probe.served
        first_round += min(first, len(probe.heads))
        for i, (priority, seq) in enumerate(probe.heads):
            rounds = 0 if i < first else 1 + (i - first) // weight
            choice.candidates.append(((-priority, rounds, turn, seq), seq, queue))
            choice.key_of[seq] = probe.key
    return choice


def next_turns(choice: KeyedChoice, leased: Iterable[int]) -> tuple[list[str], dict[str, int]]:
    """The keys that go to the back, in order (those passed over, then those whose turn the
    claim used up), and the keys that keep the front with what they have been given."""
    given = Counter(choice.key_of[seq] for seq in leased if seq in choice.key_of)
    back = list(choice.passed)
    stay: dict[str, int] = {}
    for key, count in given.items():
        total = choice.served[key] + count
        if total >= choice.weights.get(key, 1):
            back.append(key)
        else:
            stay[key] = total
    return back, stay
