"""A job runs again (a retry, a respawn, Vidispine's duplicate) through one `JobSpec.from_job`:
every setting a producer can give carries over, and a respawn is that spec with its changes."""

from __future__ import annotations

from dataclasses import fields

from jobq.engine import respawn
from jobq.engine.specs import JobSpec
from jobq.model import Defaults, Job
from jobq.states import State

# what a new run does not take from its source: its identity, its timing and its outcome
NOT_CARRIED = {"id", "run_at", "delay", "deadline_from_enqueue", "unique_key", "retry_of"}


def source() -> Job:
    """A finished job whose every setting differs from the defaults."""
    return Job(
        id="j1", queue="mail", type="send", payload={"to": "a"}, metadata={"team": "ops"},
        priority=7, state=State.failed, lease_seconds=30.0, deadline_seconds=600.0,
        max_attempts=5, backoff_base=1.5, backoff_max=90.0, result_ttl=120.0,
        callback_url="https://example.com/done", owner="alice", unique_key="mail-1",
        attempt=5, created_at=1.0, finished_at=2.0,
    )  # fmt: skip


def test_every_setting_a_spec_can_give_is_carried_over() -> None:
    job = source()
    spec = JobSpec.from_job(job)
    shared = {f.name for f in fields(JobSpec)} & {f.name for f in fields(Job)}
    again = spec.job("j2", 10.0, Defaults(lease_seconds=1, max_attempts=1, result_ttl=1))
    for name in shared - NOT_CARRIED:
        assert getattr(again, name) == getattr(job, name), name
    assert (again.unique_key, again.retry_of, again.attempt) == (None, None, 0)


def test_a_job_kept_forever_is_kept_forever_again() -> None:
    job = source()
    job.result_ttl = None
    spec = JobSpec.from_job(job)
    assert spec.keep_forever
    assert spec.job("j2", 10.0, Defaults()).result_ttl is None


def test_changes_apply_over_the_source() -> None:
    spec = JobSpec.from_job(source(), priority=1, retry_of="j1")
    assert (spec.priority, spec.retry_of, spec.queue) == (1, "j1", "mail")


def test_a_respawn_is_the_source_run_again_with_one_respawn_less() -> None:
    job = source()
    job.metadata = {**job.metadata, **respawn.policy(2, 30)}
    child = respawn.spawn(job, 100.0)
    assert child is not None
    metadata = {**job.metadata, respawn.REMAINING: "1"}
    expected = JobSpec.from_job(job, metadata=metadata, delay=30.0, retry_of="j1")
    assert child == expected.job(child.id, 100.0, Defaults())
    assert (child.state, child.run_at) == (State.scheduled, 130.0)
