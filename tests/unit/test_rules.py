import random

import pytest

from jobq.engine import rules
from jobq.errors import Conflict, InvalidInput
from jobq.model import Job, Worker, new_id
from jobq.states import Event, State


def running(**kw):
    base = dict(
        id=new_id(),
        queue="q",
        state=State.running,
        attempt=1,
        max_attempts=3,
        lease_token="t",
        lease_expires_at=110.0,
        worker=Worker("w"),
    )
    return Job(**{**base, **kw})


def test_backoff_grows_exponentially_and_is_capped():
    rng = random.Random(1)
    for attempt in range(1, 30):
        delay = rules.backoff_delay(attempt, 2.0, 100.0, rng)
        ceiling = min(100.0, 2.0 * 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling


def test_backoff_jitter_spreads_retries():
    rng = random.Random(7)
    delays = {round(rules.backoff_delay(5, 1.0, 1000.0, rng), 6) for _ in range(50)}
    assert len(delays) > 40


def test_fail_with_attempts_left_schedules_a_retry():
    plan = rules.fail(running(), {"code": "x"}, True, 3, now=100.0, rng=random.Random(0))
    assert plan.event == Event.backoff
    assert 100.0 + 1.0 <= plan.changes["run_at"] <= 100.0 + 2.0
    assert plan.attempt_outcome == "failed"


def test_fail_on_last_attempt_or_not_retryable_is_final():
    assert rules.fail(running(attempt=3), {"code": "x"}, True, None, 100.0).event == Event.fail
    assert rules.fail(running(), {"code": "x"}, False, None, 100.0).event == Event.fail


def test_fail_after_cancel_request_confirms_the_cancel():
    job = running(cancel_requested=True, cancel_reason={"reason": "stop"})
    plan = rules.fail(job, {"code": "killed"}, True, -15, 100.0)
    assert plan.event == Event.cancel_confirm
    assert plan.changes["error"]["message"] == "stop"


def test_retry_past_the_deadline_fails_instead():
    job = running(deadline_at=100.5, backoff_base=10.0)
    assert rules.fail(job, {"code": "x"}, True, None, 100.0).event == Event.fail


def test_overdue_requeues_or_fails():
    assert rules.overdue(running(), 111.0).event == Event.expire
    assert rules.overdue(running(attempt=3), 111.0).event == Event.expire_fail
    assert rules.overdue(running(deadline_at=105.0), 106.0).changes["error"]["code"] == (
        "deadline_exceeded"
    )
    with pytest.raises(Conflict):
        rules.overdue(running(), 100.0)


def test_cancel_waiting_at_once_running_by_request_finished_refused():
    assert rules.cancel(running(state=State.queued), "r", None, 1.0).event == Event.cancel
    plan = rules.cancel(running(), "r", None, 1.0)
    assert plan.event == Event.cancel_request and plan.changes["cancel_requested"] is True
    with pytest.raises(Conflict):
        rules.cancel(running(state=State.succeeded), "r", None, 1.0)


def test_update_moves_between_scheduled_and_queued():
    queued = running(state=State.queued)
    assert rules.update(queued, 10.0, run_at=20.0).event == Event.reschedule
    assert rules.update(running(state=State.scheduled), 10.0, run_at=5.0).event == Event.due
    with pytest.raises(Conflict):
        rules.update(running(), 10.0, priority=1)


def test_finished_jobs_get_a_purge_time_from_their_ttl():
    job = running(result_ttl=60.0)
    assert rules.complete(job, 1, 100.0).changes["purge_at"] == 160.0
    assert rules.complete(running(result_ttl=None), 1, 100.0).changes["purge_at"] is None


def test_ids_are_uuid7_and_time_ordered():
    a, b = new_id(1000.0), new_id(1000.002)
    assert a[14] == "7" and a < b and len(a) == 36


def test_iso_renders_utc_milliseconds():
    from jobq.render import iso

    assert iso(0.0) == "1970-01-01T00:00:00.000Z"
    assert iso(1_700_000_000.1234) == "2023-11-14T22:13:20.123Z"
    assert iso(1_700_000_000.9996) == "2023-11-14T22:13:21.000Z"
    assert iso(None) is None


def test_iso_agrees_with_datetime_however_times_interleave():
    """The formatting caches (by exact time and by whole second) never hand out another
    time's text: times from many seconds, repeated and interleaved, past the caches' size."""
    from datetime import UTC, datetime

    from jobq import render

    rng = random.Random(7)
    times = [rng.uniform(0, 4_102_444_800) for _ in range(3 * render._KEEP)]
    times += [t + rng.choice([0.0, 0.0004, 300.0, 86_400.0]) for t in times[:500]]
    rng.shuffle(times)
    for t in times:
        millis = round(t * 1000)
        expected = datetime.fromtimestamp(millis / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
        assert render.iso(t) == expected[:-3] + "Z", t


@pytest.mark.parametrize("seconds", [0.0, -1.0, 7 * 86400.0 + 1, 10 * 365 * 86400.0,
                                     float("nan"), float("inf")])  # fmt: skip
def test_a_lease_outside_the_shared_bound_is_refused(seconds):
    with pytest.raises(InvalidInput):
        rules.check_lease(seconds)


def test_a_lease_within_the_bound_passes():
    rules.check_lease(None)
    rules.check_lease(rules.MAX_LEASE_SECONDS)


def test_snooze_schedules_the_job_and_gives_its_attempt_back():
    plan = rules.snooze(running(), now=100.0, seconds=30.0)
    assert plan.event == Event.snooze and plan.attempt_outcome == "snoozed"
    assert plan.changes == {
        "run_at": 130.0, "attempt": 0, "lease_token": None, "lease_expires_at": None}  # fmt: skip
    now = rules.snooze(running(), now=100.0, seconds=0.0)
    assert now.event == Event.snooze_now and now.changes["run_at"] == 100.0


def test_snooze_confirms_a_cancel_and_fails_a_job_it_would_take_past_its_deadline():
    cancelled = rules.snooze(running(cancel_requested=True), now=100.0, seconds=30.0)
    assert cancelled.event == Event.cancel_confirm
    late = rules.snooze(running(deadline_at=120.0), now=100.0, seconds=30.0)
    assert late.event == Event.fail and late.changes["error"]["code"] == "deadline_exceeded"
    assert rules.snooze(running(deadline_at=140.0), now=100.0, seconds=30.0).event == Event.snooze


@pytest.mark.parametrize("seconds", [-0.001, float("nan"), float("inf"), 365 * 86400.0 + 1])
def test_a_snooze_outside_the_bound_is_refused(seconds):
    with pytest.raises(InvalidInput):
        rules.check_snooze(seconds)
    rules.check_snooze(0.0)
    rules.check_snooze(365 * 86400.0)
