"""The background duties' timer: rounds run when work is due, not whenever a time is reported."""

from __future__ import annotations

import asyncio

from jobq.engine import Engine
from jobq.engine.callbacks import CallbackSender
from jobq.engine.duties import Duties


class CountedDuties(Duties):
    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, CallbackSender(engine.store, []))
        self.rounds = 0
        self.round_done = asyncio.Event()

    async def run_once(self) -> float | None:
        due = await super().run_once()
        self.rounds += 1
        self.round_done.set()
        return due


async def test_a_later_time_moves_the_wake_up_without_running_a_round(engine: Engine):
    duties = CountedDuties(engine)
    await duties.start()
    try:
        await duties.round_done.wait()
        duties.round_done.clear()
        for minutes in (60, 30, 10):  # each earlier than the last: new leases, say
            duties.at(engine.clock() + minutes * 60)
            await asyncio.sleep(0)
        await asyncio.sleep(0.05)  # let the loop see every wake-up
        assert duties.rounds == 1
        duties.at(engine.clock())  # something is due now: a round runs
        await duties.round_done.wait()
        assert duties.rounds == 2
    finally:
        await duties.stop()


async def test_a_claimed_job_s_deadline_wakes_the_duties_before_its_lease_ends(engine: Engine):
    from jobq.engine import JobSpec
    from jobq.model import ClaimSpec, Worker
    from jobq.states import State

    duties = CountedDuties(engine)
    await duties.start()
    try:
        await duties.round_done.wait()  # the first round ran: nothing is due for a while
        await engine.enqueue([JobSpec(queue="d", deadline_seconds=0.3, max_attempts=3)])
        [job] = await engine.claim(ClaimSpec(["d"], None, 1, 600.0, Worker("w")))
        failed = await engine.wait(job.id, 10)  # the lease runs 600 s; the deadline 0.3 s
        assert failed.state == State.failed and failed.error is not None
        assert failed.error["code"] == "deadline_exceeded"
    finally:
        await duties.stop()


async def test_a_round_forgets_workers_not_seen_for_a_day_at_most_once_an_hour(engine: Engine):
    from jobq.engine.duties import WORKER_MEMORY
    from jobq.model import Worker

    now = engine.clock()
    await engine.store.touch_worker(Worker("gone"), ["q"], now - WORKER_MEMORY - 60)
    await engine.store.touch_worker(Worker("here"), ["q"], now)
    duties = Duties(engine, CallbackSender(engine.store, []))
    try:
        await duties.run_once()
        assert [w.name for w in await engine.store.workers()] == ["here"]
        await engine.store.touch_worker(Worker("gone too"), ["q"], now - WORKER_MEMORY - 60)
        await duties.run_once()  # within the hour: no second sweep
        assert len(await engine.store.workers()) == 2
    finally:
        await duties.stop()
