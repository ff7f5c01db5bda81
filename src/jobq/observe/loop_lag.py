"""How late the event loop runs: a ticker that sleeps `interval` seconds and measures how much
later than asked it wakes. Every request of the process shares that loop, so its lag is what
one slow request costs all the others. Shown in /metrics as a histogram and the longest lag
seen (`jobq_event_loop_lag_seconds`, `jobq_event_loop_lag_max_seconds`)."""

from __future__ import annotations

import asyncio
import contextlib
import time

from prometheus_client import CollectorRegistry, Gauge, Histogram

LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)


class LoopLag:
    def __init__(self, registry: CollectorRegistry, interval: float) -> None:
        self.interval = interval
        self.longest = 0.0
        self.lags = Histogram(
            "jobq_event_loop_lag_seconds",
            "How late the event loop woke a timer.",
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.longest_gauge = Gauge(
            "jobq_event_loop_lag_max_seconds",
            "The longest event loop lag since start.",
            registry=registry,
        )
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._tick(), name="jobq-loop-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def record(self, lag: float) -> None:
        self.lags.observe(lag)
        if lag > self.longest:
            self.longest = lag
            self.longest_gauge.set(lag)

    async def _tick(self) -> None:
        while True:
            asked = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.record(max(time.perf_counter() - asked - self.interval, 0.0))
