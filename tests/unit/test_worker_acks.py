"""How `jobq worker` sends outcomes the server refuses (the end-to-end case, a result over the
body limit with a real server, is in tests/acceptance/test_worker_tasks.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from jobq.client import AckItem, AckResult
from jobq.client.errors import InvalidRequest, PayloadTooLarge
from jobq.worker.app import Settings, Worker
from jobq.worker.runner import Runner, refused_outcome


class Server:
    """Takes a batch of outcomes unless it holds one it refuses; remembers every batch."""

    def __init__(self, refuse: set[str], refuse_failures: set[str]) -> None:
        self.refuse = refuse  # outcomes refused (413)
        self.refuse_failures = refuse_failures  # their replacement failures refused too (422)
        self.batches: list[list[AckItem]] = []
        self.stored: dict[str, AckItem] = {}

    async def ack(self, items: list[AckItem]) -> list[AckResult]:
        self.batches.append(list(items))
        for item in items:
            if item.id in self.refuse and item.error is None:
                raise PayloadTooLarge("too large", status=413, code="too_large")
            if item.id in self.refuse_failures and item.error is not None:
                raise InvalidRequest("no", status=422, code="invalid")
        self.stored.update((item.id, item) for item in items)
        return [AckResult(item.id, True, "succeeded") for item in items]


def send(server: Server, ids: list[str]) -> None:
    async def run() -> None:
        runner = Runner(server, Worker(), Settings())  # type: ignore[arg-type]
        await runner._send_acks([AckItem(i, f"token-{i}", result=i) for i in ids])

    asyncio.run(run())


def test_a_batch_goes_whole_when_the_server_takes_it() -> None:
    server = Server(set(), set())
    send(server, ["a", "b", "c"])
    assert [[i.id for i in batch] for batch in server.batches] == [["a", "b", "c"]]


def test_a_refused_batch_goes_again_one_by_one_and_its_bad_outcome_as_a_failure() -> None:
    server = Server({"b"}, set())
    send(server, ["a", "b", "c"])
    assert [[i.id for i in batch] for batch in server.batches] == [
        ["a", "b", "c"], ["a"], ["b"], ["b"], ["c"]]  # fmt: skip
    assert server.stored["a"].result == "a" and server.stored["c"].result == "c"
    failure: Any = server.stored["b"]
    assert failure.result is None and failure.error["code"] == "outcome_refused"
    assert failure.error["details"] == {"status": 413, "code": "too_large"}
    assert failure.retryable is False  # the task succeeded: its result would be refused again


def test_a_refused_failure_does_not_stop_the_outcomes_after_it() -> None:
    server = Server({"b"}, {"b"})
    send(server, ["a", "b", "c"])
    assert set(server.stored) == {"a", "c"}  # b's lease running out recovers it


def test_a_refused_snooze_goes_again_as_a_failure_that_is_retried() -> None:
    """A server older than snoozes refuses the field (422): the job must not fail for good."""
    refusal = InvalidRequest("no", status=422, code="invalid")
    failure = refused_outcome(AckItem("a", "t", snooze=30), refusal)
    assert failure.error is not None and failure.error["code"] == "outcome_refused"
    assert failure.retryable is True and failure.snooze is None
    assert AckItem("a", "t", snooze=30).document() == {"id": "a", "token": "t", "snooze": 30}
