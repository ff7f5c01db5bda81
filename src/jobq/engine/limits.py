"""Flow limits as the engine keeps them: checked when set, and the limited queues a claim names.

The limits themselves live in the store (jobq.store.limits), which enforces them inside each
claim's transaction. The engine only tells a claim which of its queues have limits, from the
names it read at most REFRESH seconds ago: a queue limited on another node meanwhile is closed
to the claim statements already (the store marks it), so a stale list can delay that queue's
jobs by up to REFRESH seconds, never run them past a limit. Claims that name limited queues wait
in slices of REFRESH seconds, so a rate's window sliding on, or room freed on another node, is
seen within that time without a notification.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from jobq.engine.specs import JobSpec
from jobq.errors import InvalidInput
from jobq.fields import NAME_MAX, text
from jobq.model import ClaimSpec, QueueLimits, QueueSettings
from jobq.store.base import Store
from jobq.store.limits import UNKEYED

REFRESH = 1.0  # seconds between reads of the limited queues' names
MAX_CONCURRENCY = 1_000_000
MAX_RATE = 1_000_000_000
MAX_PERIOD = 366 * 86400.0
MAX_WEIGHTS = 100  # weighted keys of a queue (the weights travel with its settings)
MAX_WEIGHT = 1000  # jobs a key takes per turn


def check_limits(limits: QueueLimits) -> QueueLimits:
    """`limits` if each is sane (a rate comes with its period), else InvalidInput."""
    counts = (("concurrency", limits.concurrency), ("per_key", limits.per_key))
    rates = (("rate", limits.rate), ("key_rate", limits.key_rate))
    for name, value in (*counts, *rates):
        top = MAX_RATE if name.endswith("rate") else MAX_CONCURRENCY
        if value is not None and (isinstance(value, bool) or not 1 <= value <= top):
            raise InvalidInput(f"{name} must be a whole number from 1 to {top:,}")
    if (limits.rate is None) != (limits.rate_period is None):
        raise InvalidInput("a rate limit needs both a rate and a period")
    if (limits.key_rate is None) != (limits.key_rate_period is None):
        raise InvalidInput("a per-key rate needs both key_rate and key_rate_period")
    for period in (limits.rate_period, limits.key_rate_period):
        if period is not None and not (math.isfinite(period) and 0 < period <= MAX_PERIOD):
            raise InvalidInput(
                f"a rate's period must be more than 0 and at most {MAX_PERIOD:,.0f} s"
            )
    aging = limits.aging
    if aging is not None and not (math.isfinite(aging) and 0 < aging <= MAX_PERIOD):
        raise InvalidInput(f"aging must be more than 0 and at most {MAX_PERIOD:,.0f} s")
    _check_weights(limits)
    return limits


def _check_weights(limits: QueueLimits) -> None:
    if not limits.weights:
        return
    if not limits.keyed:
        raise InvalidInput("weights are for the keys of a keyed queue: give per_key too")
    if len(limits.weights) > MAX_WEIGHTS:
        raise InvalidInput(f"at most {MAX_WEIGHTS:,} weighted keys")
    for key, weight in limits.weights:
        text(key, "a weighted key", NAME_MAX)
        if isinstance(weight, bool) or not 1 <= weight <= MAX_WEIGHT:
            raise InvalidInput(f"a key's weight must be a whole number from 1 to {MAX_WEIGHT:,}")


def paused_among(settings: Mapping[str, QueueSettings]) -> set[str]:
    """The paused queues of `settings`."""
    return {name for name, s in settings.items() if s.paused}


class LimitedQueues:
    """The names of the queues that have a flow limit, read from the store when asked for and
    older than REFRESH seconds."""

    def __init__(self, store: Store, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock
        self._read_at = -math.inf
        self.names: frozenset[str] = frozenset()  # as last read
        self.keyed: frozenset[str] = frozenset()  # those with a per-key limit

    async def refresh(self) -> None:
        self._read_at = self._clock()
        settings = await self._store.queue_settings()
        self.names = frozenset(name for name, s in settings.items() if s.limits.any)
        self.keyed = frozenset(n for n, s in settings.items() if s.limits.keyed)

    def keyed_spec(self, spec: JobSpec) -> JobSpec:
        """`spec` as a keyed queue takes it: without a key, it shares the key '' (UNKEYED)."""
        if spec.concurrency_key is None and spec.queue in self.keyed:
            return replace(spec, concurrency_key=UNKEYED)
        return spec

    async def current(self) -> None:
        """Read the names again if they are older than REFRESH seconds."""
        if self._clock() - self._read_at >= REFRESH:
            await self.refresh()

    async def of(self, spec: ClaimSpec) -> tuple[str, ...]:
        """The limited queues among the claim's (None: all of them), in name order."""
        await self.current()
        if not self.names:
            return ()
        return tuple(sorted(self.names if spec.queues is None else self.names & set(spec.queues)))

    def holds(self, queues: Sequence[str]) -> bool:
        return any(q in self.names for q in queues)
