"""Jobs to rows: which jobs take the short INSERT of new jobs."""

from __future__ import annotations

from dataclasses import replace

from jobq.model import Job, Worker
from jobq.store.rows import INSERT_COLUMNS, NEW_COLUMNS, is_new, job_values, new_job_values


def test_a_built_job_is_new_and_its_short_row_matches_the_full_one():
    job = Job(id="i", queue="q", payload={"x": 1}, metadata={"k": "v"}, owner="me")
    assert is_new(job)
    full = dict(zip(INSERT_COLUMNS, job_values(job), strict=True))
    assert dict(zip(NEW_COLUMNS, new_job_values(job), strict=True)) == {
        c: full[c] for c in NEW_COLUMNS
    }


def test_a_job_that_ran_is_not_new():
    job = Job(id="i", queue="q")
    for changed in ({"attempt": 1}, {"worker": Worker("w")}, {"cancel_requested": True},
                    {"purge_at": 1.0}, {"retried_by": "j"}):  # fmt: skip
        assert not is_new(replace(job, **changed))


def test_evolve_is_replace_and_leaves_the_original_alone():
    from jobq.model import evolve
    from jobq.states import State

    job = Job(id="i", queue="q", payload={"x": 1}, metadata={"k": "v"}, worker=Worker("w"))
    changes = {"state": State.succeeded, "result": [1], "finished_at": 5.0, "lease_token": None}
    assert evolve(job, changes) == replace(job, **changes)
    assert job.state != State.succeeded and job.result is None
