"""Running one Python task: async functions on the loop, sync ones in the worker's threads."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

import orjson

from jobq.worker.app import TaskContext, is_async
from jobq.worker.lease import Lease, StopReason
from jobq.worker.outcome import Outcome, Snooze


async def run_task(
    fn: Callable[..., Any], ctx: TaskContext, lease: Lease, threads: Executor
) -> Outcome:
    """The task's result, or the error it raised; `lease.stop_reason` says if it was stopped."""
    if is_async(fn):
        return await _run_async(fn, ctx, lease)
    return await _run_sync(fn, ctx, lease, threads)


async def _run_async(fn: Callable[..., Any], ctx: TaskContext, lease: Lease) -> Outcome:
    """Await the task function in the job's own asyncio task (a second task per job costs
    about a tenth of a worker's CPU per no-op job). A stop cancels the job's task while the function
    runs, and takes its cancellation back (`uncancel`) once the function has stopped, so the
    function alone sees it; a cancellation from elsewhere still goes through."""
    job_task = asyncio.current_task()
    assert job_task is not None
    running, cancelled = True, False

    def stop(reason: StopReason) -> None:
        nonlocal cancelled
        ctx._stopped = True
        if running and not cancelled:
            cancelled = True
            job_task.cancel()

    lease.on_stop(stop)
    try:
        result = await fn(ctx)
    except asyncio.CancelledError:
        if not cancelled or job_task.uncancel() > 0:
            raise
        return _stopped(lease)
    except Exception as exc:
        outcome = Outcome.from_exception(exc)
    else:
        outcome = _checked(result)
    finally:
        running = False
    if cancelled:  # the function caught the cancellation and ended on its own
        job_task.uncancel()
    return outcome


async def _run_sync(
    fn: Callable[..., Any], ctx: TaskContext, lease: Lease, threads: Executor
) -> Outcome:
    """Run the task function in a thread; a stop stops waiting for it (a thread cannot be
    interrupted: the function sees `cancel_requested`)."""
    work = asyncio.get_running_loop().run_in_executor(threads, fn, ctx)

    def stop(reason: StopReason) -> None:
        ctx._stopped = True
        work.cancel()

    lease.on_stop(stop)
    try:
        result = await work
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if lease.stop_reason is None or (task is not None and task.cancelling()):
            raise
        return _stopped(lease)
    except Exception as exc:
        return Outcome.from_exception(exc)
    return _checked(result)


def _stopped(lease: Lease) -> Outcome:
    """What a stopped function ends with (the worker reports the stop's own reason)."""
    return Outcome.failure("stopped", f"stopped: {lease.stop_reason}")


def _checked(result: Any) -> Outcome:
    """The result, if the server can store it: JSON with 64-bit integers (orjson refuses
    what the server would refuse, so one bad result cannot spoil the batch it travels in).
    A `Snooze` returned snoozes the job, as one raised does."""
    if isinstance(result, Snooze):
        return Outcome(snooze=result.seconds)
    try:
        orjson.dumps(result)
    except TypeError as exc:
        return Outcome.failure(
            "bad_result", f"the task's result is not JSON: {exc}", retryable=False
        )
    return Outcome(result=result)
