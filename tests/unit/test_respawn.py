from jobq.engine import respawn, rules
from jobq.errors import Conflict
from jobq.model import Job, Plan, Worker, new_id
from jobq.states import Event, State


def running(**kw):
    base = dict(
        id=new_id(),
        queue="q",
        type="img",
        payload="p",
        state=State.running,
        attempt=1,
        max_attempts=1,
        lease_token="t",
        lease_expires_at=110.0,
        worker=Worker("w"),
        metadata=respawn.policy(2, 30),
    )
    return Job(**{**base, **kw})


def test_a_final_failure_carries_a_new_job_with_one_respawn_less():
    job = running()
    plan = respawn.with_respawn(rules.fail(job, {"code": "x"}, True, None, 100.0), job, 100.0)
    child = plan.spawn
    assert child is not None and child.id != job.id
    assert plan.changes["retried_by"] == child.id
    assert child.retry_of == job.id
    assert (child.type, child.payload, child.queue) == ("img", "p", "q")
    assert respawn.remaining(child) == 1
    assert child.state == State.scheduled and child.run_at == 130.0


def test_an_expired_lease_with_nothing_left_respawns_too():
    job = running()
    plan = respawn.with_respawn(rules.overdue(job, 200.0), job, 200.0)
    assert plan.event == Event.expire_fail and plan.spawn is not None


def test_no_respawn_left_or_no_policy_means_no_new_job():
    for job in (running(metadata=respawn.policy(0, 30)), running(metadata={})):
        plan = respawn.with_respawn(rules.fail(job, {"code": "x"}, True, None, 1.0), job, 1.0)
        assert plan.spawn is None and "retried_by" not in plan.changes


def test_zero_delay_respawns_straight_into_the_queue():
    job = running(metadata=respawn.policy(1, 0))
    plan = respawn.with_respawn(rules.fail(job, {"code": "x"}, True, None, 5.0), job, 5.0)
    assert plan.spawn is not None and plan.spawn.state == State.queued


def test_success_cancel_and_retries_within_a_job_never_respawn():
    job = running(max_attempts=3)
    for plan in (
        rules.complete(job, None, 1.0),
        rules.cancel(job, "stop", None, 1.0, immediate=True),
        rules.fail(job, {"code": "x"}, True, None, 1.0),  # backoff: attempts left
    ):
        assert respawn.with_respawn(plan, job, 1.0).spawn is None


def test_wrap_notes_spawned_jobs_by_parent():
    job = running()
    spawned: dict[str, Job] = {}
    decide = respawn.wrap(lambda j: rules.fail(j, {"code": "x"}, False, None, 1.0), 1.0, spawned)
    plan: Plan = decide(job)
    assert spawned[job.id] is plan.spawn


def test_a_failed_job_that_respawned_cannot_be_retried_by_hand():
    failed = running(state=State.failed)
    try:
        respawn.check_manual_retry(failed)
    except Conflict:
        pass
    else:
        raise AssertionError("expected Conflict")
    respawn.check_manual_retry(running(state=State.failed, metadata=respawn.policy(0, 1)))
    respawn.check_manual_retry(running(state=State.succeeded))


def test_bad_policy_values_read_as_none():
    job = running(metadata={respawn.REMAINING: "x", respawn.DELAY: "y"})
    assert respawn.remaining(job) == 0 and respawn.delay(job) == 0.0


def test_immediate_cancel_of_a_running_job_ends_it_and_revokes_the_lease():
    plan = rules.cancel(running(), "client_request", "why", 7.0, immediate=True)
    assert plan.event == Event.cancel_confirm
    assert plan.changes["lease_token"] is None
    assert plan.changes["error"]["details"] == "why"
    assert rules.cancel(running(), "r", None, 7.0).event == Event.cancel_request
