"""How many claims `jobq worker` keeps in flight: as many as its slots need while claims bring
work, MIN_CLAIMS while they come back empty (a stand-in server counts them)."""

from __future__ import annotations

import asyncio
import builtins
from typing import Any

import jobq
from jobq.client import AckItem, AckResult, ClaimedJob
from jobq.worker.app import Settings
from jobq.worker.runner import MIN_CLAIMS, Runner

MAX_SLOTS = 12  # the most slots a test's worker has


class Server:
    """Answers each claim after `delay` with one job while `jobs` last, then with none."""

    def __init__(self, jobs: int, delay: float = 0.01) -> None:
        self.left = jobs
        self.delay = delay
        self.in_flight = 0
        self.most_in_flight = 0
        self.empty_answers = 0
        self.most_when_idle = 0  # claims in flight at once once the flow's claims came back

    async def claim(self, queues: Any, worker: Any, *, max: int, **_: Any) -> list[ClaimedJob]:
        self.in_flight += 1
        self.most_in_flight = builtins.max(self.most_in_flight, self.in_flight)
        if self.empty_answers > 2 * MAX_SLOTS:  # every claim sent while work flowed is back
            self.most_when_idle = builtins.max(self.most_when_idle, self.in_flight)
        await asyncio.sleep(self.delay)
        self.in_flight -= 1
        if self.left <= 0:
            self.empty_answers += 1
            return []
        self.left -= 1
        job = ClaimedJob(id=f"j{self.left}", seq=self.left, queue="q", type="t", state="running",
                         lease_seconds=30.0, lease_token="token")  # fmt: skip
        return [job]

    async def ack_and_claim(self, items: list[AckItem], queues: Any, worker: Any,
                            **kw: Any) -> tuple[list[AckResult], list[ClaimedJob]]:  # fmt: skip
        results = [AckResult(i.id, True, "succeeded") for i in items]
        return results, await self.claim(queues, worker, **kw)

    async def ack(self, items: list[AckItem]) -> list[AckResult]:
        return [AckResult(i.id, True, "succeeded") for i in items]


async def run_until_idle(server: Server, concurrency: int, batch: int) -> None:
    app = jobq.Worker(queues=["q"])

    @app.task("t")
    async def quick(job: jobq.TaskContext) -> None:
        return None

    settings = Settings(["q"], concurrency, batch=batch, claim_wait=0.05)
    runner = Runner(server, app, settings)  # type: ignore[arg-type]
    running = asyncio.create_task(runner.run())
    while server.empty_answers < 4 * MAX_SLOTS:  # well after the work ran out
        await asyncio.sleep(0.01)
    runner.request_stop()
    await asyncio.wait_for(running, 10)


def test_claims_fill_the_slots_while_work_flows_and_shrink_when_it_stops() -> None:
    server = Server(jobs=300)
    asyncio.run(run_until_idle(server, concurrency=12, batch=1))
    assert server.left == 0
    assert server.most_in_flight == 12  # one claim per slot while claims brought jobs
    assert server.most_when_idle == MIN_CLAIMS  # idle: back to a few long-polls


def test_an_idle_worker_never_sends_more_than_min_claims() -> None:
    server = Server(jobs=0)
    asyncio.run(run_until_idle(server, concurrency=12, batch=1))
    assert server.most_in_flight == MIN_CLAIMS
