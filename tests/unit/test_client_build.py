"""The client's documents become the same read-only dataclasses `cls(...)` would make."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime

import pytest

from jobq.client.types import ClaimedJob, Heartbeat, Job, LogEntry, WorkerRef
from jobq.model import Job as StoredJob
from jobq.model import Worker
from jobq.render import job_document


def claimed_document() -> dict[str, object]:
    now = time.time()
    job = StoredJob(id="j1", queue="q", type="t", seq=7, payload={"n": [1, 2]}, attempt=1,
                    run_at=now, created_at=now, updated_at=now, started_at=now,
                    lease_expires_at=now + 60, worker=Worker("w", "h", 12), lease_token="tok",
                    metadata={"k": "v"})  # fmt: skip
    return {**job_document(job), "lease_token": "tok"}


def test_a_claimed_job_has_every_field_with_times_and_its_worker_converted() -> None:
    doc = claimed_document()
    job = ClaimedJob.parse(doc)
    times = {"run_at", "created_at", "updated_at", "started_at", "finished_at",
             "last_heartbeat_at", "lease_expires_at", "deadline_at"}  # fmt: skip
    expected = {f.name: doc.get(f.name, f.default) for f in dataclasses.fields(ClaimedJob)}
    for name in times:
        expected[name] = doc[name] and datetime.fromisoformat(str(doc[name]))
    del expected["worker"], expected["metadata"]
    assert job == ClaimedJob(**expected, worker=WorkerRef("w", "h", 12), metadata={"k": "v"})
    assert job.created_at is not None and job.created_at.tzinfo is not None
    assert job.lease_token == "tok" and job.payload == {"n": [1, 2]} and job.created is None


def test_missing_fields_take_their_defaults_and_unknown_keys_are_ignored() -> None:
    job = Job.parse({"id": "j", "seq": 1, "queue": "q", "type": "t", "state": "queued",
                     "a_field_of_a_newer_server": 1})  # fmt: skip
    assert job == Job("j", 1, "q", "t", "queued")
    other = Job.parse({"id": "k", "seq": 2, "queue": "q", "type": "t", "state": "queued"})
    assert job.metadata == {} and job.metadata is not other.metadata  # a fresh dict each


def test_a_missing_required_field_is_a_type_error_naming_it() -> None:
    with pytest.raises(TypeError, match="'state'"):
        Job.parse({"id": "j", "seq": 1, "queue": "q", "type": "t"})


def test_what_parse_builds_stays_read_only() -> None:
    job = ClaimedJob.parse(claimed_document())
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.state = "succeeded"  # type: ignore[misc]
    beat = Heartbeat.parse({"id": "j", "state": "running", "cancel_requested": False,
                            "lease_expires_at": "2026-01-02T03:04:05.678Z"})  # fmt: skip
    assert beat.lease_expires_at == datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    entry = LogEntry.parse({"seq": 1, "time": None, "stream": "stdout", "text": "hi"})
    assert entry == LogEntry(1, None, "stdout", "hi")
