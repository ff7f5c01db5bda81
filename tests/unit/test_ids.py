"""Job ids: UUIDv7 text, time first, random after."""

from __future__ import annotations

import uuid

from jobq.model import new_id, new_ids


def test_ids_are_uuid7_with_the_time_in_milliseconds_first():
    now = 1_790_000_000.123
    ids = new_ids(500, now)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert parsed.int >> 80 == int(now * 1000)
    assert len(set(ids)) == 500


def test_ids_of_later_moments_sort_later():
    assert new_id(1_790_000_000.001) < new_id(1_790_000_000.002) < new_id(1_790_000_001.0)


def test_every_random_digit_varies():
    ints = [uuid.UUID(i).int for i in new_ids(2000, 0.0)]
    for shift in range(0, 76, 4):  # each hex digit below the version, variant bits included
        if shift in (60, 76):
            continue
        assert len({x >> shift & 0xF for x in ints}) == 16, shift
    assert {x >> 62 & 3 for x in ints} == {0b10}


def test_ids_of_one_batch_ascend():
    ids = new_ids(300, 1_790_000_000.5)
    assert ids == sorted(ids) and len(set(ids)) == 300
