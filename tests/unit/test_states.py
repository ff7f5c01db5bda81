import pytest

from jobq.states import TERMINAL, TRANSITIONS, Event, State, sources, target


def test_every_event_has_sources_and_a_target_state():
    for event in Event:
        allowed, _ = TRANSITIONS[event]
        assert allowed, event


def test_terminal_states_have_no_way_out():
    for event, (allowed, _) in TRANSITIONS.items():
        assert not (allowed & TERMINAL), f"{event} leaves a terminal state"


@pytest.mark.parametrize(
    ("event", "start", "end"),
    [
        (Event.claim, State.queued, State.running),
        (Event.complete, State.running, State.succeeded),
        (Event.fail, State.running, State.failed),
        (Event.backoff, State.running, State.scheduled),
        (Event.snooze, State.running, State.scheduled),
        (Event.snooze_now, State.running, State.queued),
        (Event.expire, State.running, State.queued),
        (Event.cancel, State.scheduled, State.cancelled),
        (Event.cancel, State.queued, State.cancelled),
        (Event.cancel_request, State.running, State.running),
        (Event.cancel_confirm, State.running, State.cancelled),
        (Event.due, State.scheduled, State.queued),
        (Event.update, State.queued, State.queued),
        (Event.heartbeat, State.running, State.running),
    ],
)
def test_allowed_transitions(event, start, end):
    assert target(event, start) == end


@pytest.mark.parametrize(
    ("event", "start"),
    [
        (Event.claim, State.scheduled),
        (Event.claim, State.running),
        (Event.complete, State.queued),
        (Event.cancel, State.running),
        (Event.cancel, State.succeeded),
        (Event.update, State.running),
        (Event.heartbeat, State.queued),
        (Event.snooze, State.queued),
        (Event.snooze, State.scheduled),
        (Event.snooze_now, State.succeeded),
    ],
)
def test_forbidden_transitions(event, start):
    assert start not in sources(event)
    with pytest.raises(ValueError):
        target(event, start)
