"""Running one Python task: async functions on the loop, sync ones in the worker's threads."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

import orjson

from jobq.worker.app import TaskContext, is_async
from jobq.worker.lease import Lease, StopReason
from jobq.worker.outcome import Outcome


async def run_task(fn: Callable[..., Any], ctx: TaskContext, lease: Lease,
                   threads: Executor) -> Outcome:  # fmt: skip
    """The task's result, or the error it raised; `lease.stop_reason` says if it was stopped."""
    loop = asyncio.get_running_loop()
    work = fn(ctx) if is_async(fn) else loop.run_in_executor(threads, fn, ctx)
    inner: asyncio.Future[Any] = asyncio.ensure_future(work)

    def stop(reason: StopReason) -> None:
        ctx._stopped = True
        inner.cancel()

    lease.on_stop(stop)
    try:
        result = await inner
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if lease.stop_reason is None or (task is not None and task.cancelling()):
            raise
        return Outcome.failure("stopped", f"stopped: {lease.stop_reason}")
    except Exception as exc:
        return Outcome.from_exception(exc)
    return _checked(result)


def _checked(result: Any) -> Outcome:
    """The result, if the server can store it: JSON with 64-bit integers (orjson refuses
    what the server would refuse, so one bad result cannot spoil the batch it travels in)."""
    try:
        orjson.dumps(result)
    except TypeError as exc:
        return Outcome.failure("bad_result", f"the task's result is not JSON: {exc}",
                               retryable=False)  # fmt: skip
    return Outcome(result=result)
