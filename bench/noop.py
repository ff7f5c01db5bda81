"""The no-op Python task the end-to-end benchmark runs: `jobq worker --app bench.noop:worker`."""

from __future__ import annotations

import jobq

worker = jobq.Worker(queues=["bench"])


@worker.task("noop")
async def noop(job: jobq.TaskContext) -> None:
    return None
