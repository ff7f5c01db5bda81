"""Batches of every size keep their order, get increasing seqs and store what was returned."""

from __future__ import annotations

import pytest

from jobq.engine import Engine, JobSpec
from jobq.model import JobQuery
from jobq.notify import Notifier
from jobq.store.base import Store


@pytest.mark.parametrize("size", [1, 3, 64, 85, 150])
async def test_a_batch_is_stored_in_order_with_the_seqs_it_was_given(store: Store, size: int):
    engine = Engine(store, Notifier())
    specs = [JobSpec(queue="q", type="t", payload={"n": n}, priority=n % 3) for n in range(size)]
    specs.insert(size // 2, JobSpec(queue="q", unique_key="u"))  # a special one in the middle
    inserted = [job for job, created in await engine.enqueue(specs) if created]
    assert [job.payload for job in inserted] == [spec.payload for spec in specs]
    seqs = [job.seq for job in inserted]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    ids = [job.id for job in inserted]  # ids ascend with seqs, so rows keyed by id sit together
    assert ids == sorted(ids)
    stored = await store.list_jobs(JobQuery(limit=1000))
    assert [(j.id, j.seq, j.payload) for j in stored] == [
        (j.id, j.seq, j.payload) for j in inserted
    ]


async def test_a_new_job_round_trips_every_field(store: Store):
    engine = Engine(store, Notifier())
    spec = JobSpec(
        queue="q", type="t", payload={"a": [1, 2.5, None]}, metadata={"k": "v"}, priority=-4,
        delay=30.0, lease_seconds=12.0, deadline_seconds=99.0, max_attempts=7,
        backoff_base=1.5, backoff_max=60.0, result_ttl=5.0,
        callback_url="https://example.com/cb", owner="me",
    )  # fmt: skip
    [(job, created)] = await engine.enqueue([spec])
    assert created
    assert await store.get(job.id) == job


async def test_every_new_jobs_queue_gets_a_row_and_a_paused_one_stays_paused(store: Store):
    engine = Engine(store, Notifier())
    await engine.pause("held")
    await engine.enqueue([JobSpec(queue="a"), JobSpec(queue="b"), JobSpec(queue="a")])
    await engine.enqueue([JobSpec(queue="c", unique_key="u"), JobSpec(queue="held")])
    assert await store.queue_names() == ["a", "b", "c", "held"]
    assert list(await store.queue_settings()) == ["held"]
