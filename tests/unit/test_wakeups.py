"""A parked claim waits on one future (jobq.handoff.Parked.handed): a notification reaches it
through `Listener.calling`, a hand-over through the future itself."""

from __future__ import annotations

import asyncio

from jobq.engine.handoff import Parked
from jobq.model import ClaimSpec, Worker
from jobq.notify import Listener, Notifier


def parked() -> Parked:
    spec = ClaimSpec(["q"], None, 1, None, Worker("w", "h", 1))
    return Parked(spec, "key", asyncio.get_running_loop().create_future())


async def test_a_wake_up_while_calling_calls_and_stays_visible_until_the_block_ends():
    listener, calls = Listener(), []
    with listener.calling(lambda: calls.append("woken")):
        assert calls == []
        listener.poke()
        assert calls == ["woken"]
        assert listener.woken  # so that a second announcement wakes another waiter
    assert not listener.woken
    listener.poke()
    assert calls == ["woken"]  # not called once the block has ended


async def test_a_wake_up_that_came_before_the_block_calls_at_once():
    listener, calls = Listener(), []
    listener.push("message")
    with listener.calling(lambda: calls.append("woken")):
        assert calls == ["woken"]
    assert not listener.woken


async def test_an_announcement_wakes_a_parked_claim_once_and_then_the_next_one():
    notifier = Notifier()
    first, second = parked(), parked()
    with notifier.listen(["queue:q"]) as one, notifier.listen(["queue:q"]) as two, \
            one.calling(first.wake), two.calling(second.wake):  # fmt: skip
        notifier.work_available("q")
        assert first.handed.done() and not second.handed.done()
        notifier.work_available("q")
        assert second.handed.done()
    assert first.handed.result() == [] and second.handed.result() == []  # claim again


async def test_a_taken_claim_is_not_woken_its_jobs_are_on_their_way():
    claim = parked()
    claim.taken = True
    claim.wake()
    assert not claim.handed.done()
    untaken = parked()
    untaken.wake()
    untaken.wake()  # twice is harmless
    assert untaken.handed.result() == []
