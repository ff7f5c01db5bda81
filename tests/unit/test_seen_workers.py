"""SeenWorkers: when a claim writes its worker's row."""

from __future__ import annotations

from jobq.model import Worker
from jobq.store.seen import SeenWorkers

W = Worker("w", "h", 1)


def test_a_new_worker_is_written_then_not_again_within_the_interval():
    seen = SeenWorkers(every=1.0)
    assert seen.due(W, ["q"], 100.0)
    seen.noted(W, ["q"], 100.0)
    assert not seen.due(W, ["q"], 100.9)
    assert seen.due(W, ["q"], 101.0)


def test_other_queues_another_worker_or_a_clock_step_back_write_again():
    seen = SeenWorkers(every=1.0)
    seen.noted(W, ["q"], 100.0)
    assert seen.due(W, ["q", "r"], 100.1)
    assert seen.due(Worker("w", "h", 2), ["q"], 100.1)
    assert seen.due(W, ["q"], 99.0)
