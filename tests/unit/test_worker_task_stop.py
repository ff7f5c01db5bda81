"""An async task runs in the job's own asyncio task: a stop reaches the task function alone,
and a cancellation from elsewhere still goes through."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from jobq.client import ClaimedJob
from jobq.worker.app import TaskContext
from jobq.worker.lease import Lease, StopReason
from jobq.worker.outcome import Outcome
from jobq.worker.task import run_task

THREADS = ThreadPoolExecutor(1)


def lease() -> Lease:
    return Lease(ClaimedJob(id="j", seq=1, queue="q", type="t", state="running",
                            lease_seconds=30.0, lease_token="tok"))  # fmt: skip


async def run(fn: Any, held: Lease) -> Outcome:
    ctx = TaskContext(held.job, asyncio.get_running_loop(), lambda *_: None, lambda _: None)
    return await run_task(fn, ctx, held, THREADS)


def test_a_stop_fails_the_function_and_leaves_the_job_task_running_on() -> None:
    async def forever(ctx: TaskContext) -> None:
        await asyncio.sleep(60)

    async def job() -> tuple[Outcome, int]:
        held = lease()
        asyncio.get_running_loop().call_later(0.05, held.stop, StopReason.cancel)
        outcome = await run(forever, held)
        await asyncio.sleep(0.01)  # the job's task goes on: nothing left to cancel it
        task = asyncio.current_task()
        assert task is not None
        return outcome, task.cancelling()

    outcome, cancelling = asyncio.run(asyncio.wait_for(job(), 10))
    assert outcome.error is not None and outcome.error["code"] == "stopped"
    assert cancelling == 0


def test_a_function_that_catches_the_stop_ends_with_its_own_result() -> None:
    async def stubborn(ctx: TaskContext) -> str:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            assert ctx.cancel_requested
            return "cleaned up"
        return "slept"

    async def job() -> tuple[Outcome, int]:
        held = lease()
        asyncio.get_running_loop().call_later(0.05, held.stop, StopReason.shutdown)
        outcome = await run(stubborn, held)
        await asyncio.sleep(0.01)
        task = asyncio.current_task()
        assert task is not None
        return outcome, task.cancelling()

    outcome, cancelling = asyncio.run(asyncio.wait_for(job(), 10))
    assert outcome.result == "cleaned up" and outcome.error is None
    assert cancelling == 0


def test_a_cancel_of_the_job_task_from_elsewhere_goes_through_even_with_a_stop() -> None:
    async def forever(ctx: TaskContext) -> None:
        await asyncio.sleep(60)

    async def main() -> None:
        held = lease()
        job = asyncio.create_task(run(forever, held))
        await asyncio.sleep(0.05)
        held.stop(StopReason.cancel)
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job

    asyncio.run(asyncio.wait_for(main(), 10))


def test_a_stop_after_the_function_ended_cancels_nothing() -> None:
    async def quick(ctx: TaskContext) -> int:
        return 7

    async def job() -> Outcome:
        held = lease()
        outcome = await run(quick, held)
        held.stop(StopReason.cancel)  # e.g. a heartbeat's answer arriving late
        await asyncio.sleep(0.01)  # would raise CancelledError had the job's task been cancelled
        return outcome

    assert asyncio.run(asyncio.wait_for(job(), 10)).result == 7
