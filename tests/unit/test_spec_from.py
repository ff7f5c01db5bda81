"""The native API's job body becomes the engine's JobSpec field by field."""

from __future__ import annotations

from datetime import UTC, datetime

from jobq.api.native.routes import spec_from
from jobq.api.native.schemas import JobIn
from jobq.engine import JobSpec


def test_every_field_of_a_body_reaches_the_spec() -> None:
    body = JobIn(
        queue="mail", type="send", payload={"to": "a@example.com"}, metadata={"team": "ops"},
        priority=7, run_at=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC), delay=3.0,
        lease_seconds=30.0, deadline_seconds=600.0, max_attempts=5, backoff_base=1.5,
        backoff_max=90.0, result_ttl=120.0, keep_forever=True,
        callback_url="https://example.com/done", unique_key="mail-1",
    )  # fmt: skip
    spec = spec_from(body, owner="alice")
    assert spec == JobSpec(
        queue="mail", type="send", payload={"to": "a@example.com"}, metadata={"team": "ops"},
        priority=7, run_at=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp(), delay=3.0,
        lease_seconds=30.0, deadline_seconds=600.0, max_attempts=5, backoff_base=1.5,
        backoff_max=90.0, result_ttl=120.0, keep_forever=True,
        callback_url="https://example.com/done", unique_key="mail-1", owner="alice",
    )  # fmt: skip


def test_a_body_without_options_leaves_the_defaults_to_the_engine() -> None:
    spec = spec_from(JobIn())
    assert spec == JobSpec()
    assert spec.run_at is None and spec.owner is None and spec.retry_of is None
