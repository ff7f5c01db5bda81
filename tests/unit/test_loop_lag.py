"""The event loop lag ticker notices a blocked loop and shows it in its metrics."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import CollectorRegistry, generate_latest

from jobq.observe.loop_lag import LoopLag


async def test_a_blocked_loop_shows_as_lag() -> None:
    registry = CollectorRegistry()
    lag = LoopLag(registry, 0.01)
    lag.start()
    await asyncio.sleep(0.05)
    time.sleep(0.2)  # a request that holds the loop
    await asyncio.sleep(0.05)
    await lag.stop()
    assert lag.longest >= 0.15
    text = generate_latest(registry).decode()
    assert "jobq_event_loop_lag_max_seconds" in text
    assert "jobq_event_loop_lag_seconds_count" in text


async def test_an_idle_loop_shows_little_lag_and_zero_turns_it_off() -> None:
    lag = LoopLag(CollectorRegistry(), 0.0)
    lag.start()
    await asyncio.sleep(0.02)
    await lag.stop()
    assert lag.longest == 0.0
