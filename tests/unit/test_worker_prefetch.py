"""Claiming ahead: a worker holds up to its prefetch beyond its slots while its jobs are quick,
never runs more than its slots at once, leaves longer jobs to other workers, and hands held
jobs back at once when it stops (a stand-in server counts what it was asked)."""

from __future__ import annotations

import asyncio
import builtins
from typing import Any

import jobq
from jobq.client import AckItem, AckResult, ClaimedJob
from jobq.worker.app import Settings
from jobq.worker.runner import QUICK_JOB, Runner


class Server:
    """Hands out `jobs` jobs, as many as each claim asks; counts what workers hold."""

    def __init__(self, jobs: int) -> None:
        self.left = jobs
        self.outstanding = 0  # claimed, neither acknowledged nor released
        self.most_outstanding = 0
        self.released: list[str] = []
        self.acked: list[str] = []

    async def claim(self, queues: Any, worker: Any, *, max: int, **_: Any) -> list[ClaimedJob]:
        await asyncio.sleep(0.002)
        n = builtins.min(max, self.left)
        self.left -= n
        self.outstanding += n
        self.most_outstanding = builtins.max(self.most_outstanding, self.outstanding)
        return [ClaimedJob(id=f"j{self.left + i}", seq=self.left + i, queue="q", type="t",
                           state="running", lease_seconds=30.0, lease_token="token")
                for i in range(n)]  # fmt: skip

    async def ack_and_claim(self, items: list[AckItem], queues: Any, worker: Any,
                            **kw: Any) -> tuple[list[AckResult], list[ClaimedJob]]:  # fmt: skip
        results = await self.ack(items)
        return results, await self.claim(queues, worker, **kw)

    async def ack(self, items: list[AckItem]) -> list[AckResult]:
        self.outstanding -= len(items)
        self.acked += [i.id for i in items]
        return [AckResult(i.id, True, "succeeded") for i in items]

    async def release(self, job_id: str, token: str) -> None:
        self.outstanding -= 1
        self.released.append(job_id)


class Tasks:
    """One task type that takes `seconds`; counts how many run at once."""

    def __init__(self, seconds: float) -> None:
        self.app = jobq.Worker(queues=["q"])
        self.running = 0
        self.most_running = 0
        self.ran: list[str] = []

        @self.app.task("t")
        async def work(ctx: jobq.TaskContext) -> None:
            self.running += 1
            self.most_running = builtins.max(self.most_running, self.running)
            self.ran.append(ctx.job.id)
            await asyncio.sleep(seconds)
            self.running -= 1


async def drain(server: Server, tasks: Tasks, settings: Settings) -> None:
    runner = Runner(server, tasks.app, settings)  # type: ignore[arg-type]
    running = asyncio.create_task(runner.run())
    while server.left or server.outstanding:
        await asyncio.sleep(0.005)
    runner.request_stop()
    await asyncio.wait_for(running, 10)


def test_quick_jobs_are_claimed_a_batch_ahead_but_never_run_beyond_the_slots() -> None:
    server, tasks = Server(jobs=400), Tasks(seconds=0.001)
    asyncio.run(drain(server, tasks, Settings(["q"], 10, batch=10, claim_wait=0.05)))
    assert sorted(server.acked) == sorted(f"j{i}" for i in range(400))
    assert server.most_outstanding == 20  # ten running and a batch held
    assert tasks.most_running == 10


def test_jobs_slower_than_quick_are_not_claimed_ahead() -> None:
    server, tasks = Server(jobs=30), Tasks(seconds=QUICK_JOB * 1.5)
    asyncio.run(drain(server, tasks, Settings(["q"], 10, batch=10, claim_wait=0.05)))
    assert len(server.acked) == 30
    assert server.most_outstanding == 10


def test_prefetch_zero_claims_no_further_than_the_slots_and_a_number_sets_it() -> None:
    for prefetch, most in ((0, 10), (25, 35)):
        server, tasks = Server(jobs=400), Tasks(seconds=0.001)
        settings = Settings(["q"], 10, batch=10, claim_wait=0.05, prefetch=prefetch)
        asyncio.run(drain(server, tasks, settings))
        assert len(server.acked) == 400
        assert server.most_outstanding == most
        assert tasks.most_running == 10


def test_held_jobs_go_back_at_once_when_the_worker_stops_and_never_run() -> None:
    async def scenario() -> tuple[Server, Tasks]:
        server, tasks = Server(jobs=8), Tasks(seconds=0.3)
        settings = Settings(["q"], 2, batch=2, claim_wait=0.05, prefetch=6, grace=5.0)
        runner = Runner(server, tasks.app, settings)  # type: ignore[arg-type]
        running = asyncio.create_task(runner.run())
        while server.outstanding < 8:
            await asyncio.sleep(0.005)
        runner.request_stop()
        await asyncio.sleep(0.05)
        assert len(server.released) == 6  # before the two running jobs end
        await asyncio.wait_for(running, 10)
        return server, tasks

    server, tasks = asyncio.run(scenario())
    assert sorted(server.acked) == sorted(tasks.ran)  # the two that ran finished
    assert len(tasks.ran) == 2
    assert not set(server.released) & set(tasks.ran)
