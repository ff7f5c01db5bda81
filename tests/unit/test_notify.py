"""The in-process notifier: a listener is woken by any queue it listens to, and forgotten after."""

from __future__ import annotations

from jobq.notify import WIDE, Notifier


async def test_a_listener_of_many_queues_is_woken_by_any_of_them_and_forgotten_after() -> None:
    notifier = Notifier()
    queues = [f"q{i}" for i in range(WIDE * 10)]
    with notifier.listen(["job:1"], queues) as listener:
        assert notifier.has_listeners("queue:q7") and notifier.has_listeners("job:1")
        assert not notifier.has_listeners("queue:other")
        assert notifier.waiting("queue:") == 1
        notifier.work_available("other")
        assert not listener.woken
        notifier.work_available(f"q{WIDE * 5}")
        assert listener.woken
    assert not notifier.has_listeners("queue:q7") and not notifier.has_listeners("job:1")
    assert notifier.waiting("queue:") == 0


async def test_a_listener_of_a_few_queues_is_woken_by_each_and_forgotten_after() -> None:
    notifier = Notifier()
    with notifier.listen([], ["a", "b"]) as listener:
        assert notifier.has_listeners("queue:a") and notifier.has_listeners("queue:b")
        assert not notifier.has_listeners("queue:c") and notifier.waiting("queue:") == 1
        notifier.work_available("c")
        assert not listener.woken
        notifier.work_available("b")
        assert listener.woken
    assert not notifier.has_listeners("queue:a") and not notifier.has_listeners("queue:b")


async def test_a_listener_of_every_queue_is_woken_by_any_queue() -> None:
    notifier = Notifier()
    with notifier.listen(["job:1"], None) as listener:
        assert notifier.has_listeners("job:1")
        assert notifier.has_listeners("queue:made-just-now")
        assert not notifier.has_listeners("job:2")
        assert notifier.waiting("queue:") == 1 and notifier.waiting("queue:x") == 1
        assert notifier.waiting("job:") == 1 and notifier.waiting("logs:") == 0
        notifier.publish("job:2")
        assert not listener.woken
        notifier.work_available("made-just-now")
        assert listener.woken
    assert not notifier.has_listeners("queue:made-just-now")
    assert notifier.waiting("queue:") == 0
