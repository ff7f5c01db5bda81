"""A job's objects in `jobq worker` are freed when the job ends, by reference counting alone:
left in a reference cycle, every job's lease, task and context waited for the garbage
collector, whose collections were a tenth of a worker's CPU per no-op job."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from jobq.client import ClaimedJob
from jobq.worker.app import Settings, TaskContext, Worker
from jobq.worker.lease import Lease, StopReason
from jobq.worker.runner import Runner

app = Worker(queues=["q"])


@app.task("quick")
async def quick(ctx: TaskContext) -> str:
    await asyncio.sleep(0)
    return "done"


@app.task("slow")
async def slow(ctx: TaskContext) -> str:
    await asyncio.sleep(60)
    return "never"


@pytest.fixture
def collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    yield
    gc.enable()


async def lease_after_the_job(kind: str, stop: StopReason | None) -> weakref.ref[Lease]:
    """Run one job through the worker's runner (the outcome waits in its ack batch: nothing
    is sent) and keep a weak reference to its lease."""
    runner = Runner(None, app, Settings())  # type: ignore[arg-type]
    runner._start(ClaimedJob(id="j", seq=1, queue="q", type=kind, state="running",
                             lease_seconds=30.0, lease_token="tok"))  # fmt: skip
    [(task, lease)] = runner.running.items()
    if stop is not None:  # once the task function runs
        asyncio.get_running_loop().call_later(0.02, lease.stop, stop)
    left = weakref.ref(lease)
    del lease
    await asyncio.wait_for(task, 10)
    return left


@pytest.mark.parametrize(("kind", "stop"), [("quick", None), ("slow", StopReason.cancel)])
def test_a_finished_job_leaves_no_reference_cycle(
    collector_off: None, kind: str, stop: StopReason | None
) -> None:
    assert asyncio.run(lease_after_the_job(kind, stop))() is None
