"""The id range of a prefix (`id_prefix_bounds`) holds every id that begins with it, in a
collation that weighs dashes (C) and in one that ignores them (many locales)."""

from __future__ import annotations

import random

import pytest

from jobq.model import id_prefix_bounds, new_ids

COLLATIONS = {"C": lambda s: s, "dashes ignored": lambda s: s.replace("-", "")}


@pytest.mark.parametrize("collation", COLLATIONS)
def test_every_id_beginning_with_a_prefix_lies_in_its_range(collation: str):
    key = COLLATIONS[collation]
    rng = random.Random(7)
    ids = new_ids(200, 1.7e9) + new_ids(200, 1.7e9 + 0.001) + new_ids(50, 1.8e9)
    for _ in range(2000):
        sample = rng.choice(ids)
        prefix = sample[: rng.randint(1, 36)]
        low, high = id_prefix_bounds(prefix)
        for job_id in ids:
            if job_id.startswith(prefix):
                assert key(low) <= key(job_id), (prefix, job_id)
                assert high is None or key(job_id) < key(high), (prefix, job_id, high)


@pytest.mark.parametrize(
    ("prefix", "high"),
    [("01a2", "01a3"), ("01a9", "01aa"), ("01af", "01b"), ("01aff-f", "01b"), ("ff-f", None),
     ("0190abcd-", "0190abce")],
)  # fmt: skip
def test_the_upper_bound_is_the_prefix_plus_one_as_a_hex_number(prefix: str, high: str | None):
    assert id_prefix_bounds(prefix) == (prefix, high)
