"""The metrics' queue label: a queue's name for the first `limit` queues seen, then (other)."""

from __future__ import annotations

import pytest

from jobq.observe.metrics import OTHER, QueueLabels


def test_the_first_queues_keep_their_names_and_later_ones_are_other() -> None:
    label = QueueLabels(2)
    assert [label(q) for q in ("a", "b", "c", "a", "d", "b")] == ["a", "b", OTHER, "a", OTHER, "b"]


def test_a_limit_of_zero_labels_every_queue_other() -> None:
    label = QueueLabels(0)
    assert {label(q) for q in ("a", "b")} == {OTHER}


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="0 or more"):
        QueueLabels(-1)
