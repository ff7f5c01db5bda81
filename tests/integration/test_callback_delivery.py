"""Callback delivery against real receivers on loopback: the connection goes to the address
that was checked (DNS rebinding changes nothing), and a slow receiver delays no one else."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from jobq.engine import Engine, JobSpec
from jobq.engine.callbacks import CallbackSender
from jobq.model import ClaimSpec, Worker
from jobq.notify import Notifier
from jobq.store.sqlite import SQLiteStore
from tests.authkit import running_app
from tests.receivers import Receiver, receiving


async def test_the_request_goes_to_the_address_that_was_checked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The resolver answers an allowed address first and another one after: the callback
    reaches the first, never the second (which stands for an internal service)."""
    real = socket.getaddrinfo
    answers = iter(["127.0.0.1"])

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "callback.test":
            host = next(answers, "127.0.0.2")
        return real(host, port, *args, **kwargs)

    async with receiving("127.0.0.1") as allowed:
        await check_pinned(allowed, monkeypatch, rebinding, tmp_path)


async def check_pinned(
    allowed: Receiver, monkeypatch: pytest.MonkeyPatch, rebinding: Any, tmp_path: Path
) -> None:
    async with receiving("127.0.0.2", allowed.port) as internal:
        monkeypatch.setattr(socket, "getaddrinfo", rebinding)
        sender = CallbackSender(SQLiteStore(str(tmp_path / "x.db")), ["127.0.0.1/32"])
        try:
            await sender.post(f"http://callback.test:{allowed.port}/hook", {"a": 1})
        finally:
            await sender.close()
        assert internal.received == []
        assert allowed.received == [("/hook", f"callback.test:{allowed.port}", b'{"a":1}')]


async def test_the_pinned_request_keeps_the_host_s_name_for_tls(tmp_path: Path) -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["93.184.215.14"]

    sender = CallbackSender(SQLiteStore(str(tmp_path / "x.db")), resolver=resolver)
    try:
        pinned = await sender.pin("https://user@hooks.example.com:8443/a?b=1")
    finally:
        await sender.close()
    assert pinned.url == "https://user@93.184.215.14:8443/a?b=1"
    assert pinned.host_header == "hooks.example.com:8443"
    assert pinned.server_name == "hooks.example.com"


async def finish(engine: Engine, queue: str, url: str) -> str:
    [(job, _)] = await engine.enqueue([JobSpec(queue=queue, callback_url=url)])
    [held] = await engine.claim(ClaimSpec([queue], None, 1, None, Worker("w")))
    await engine.complete(job.id, held.lease_token or "", result=1)
    return job.id


async def test_a_slow_receiver_delays_no_other_tenant_s_callback(tmp_path: Path) -> None:
    """A receiver answering a byte a second holds its own delivery until the 3 s deadline,
    then it is retried later; another tenant's callback, due meanwhile, arrives at once."""
    async with (
        receiving(drip=1.0) as slow,
        receiving() as fast,
        running_app(tmp_path, callback_allow=["127.0.0.1/32"], callback_timeout=3.0) as (app, _),
    ):
        engine: Engine = app.state.engine
        await finish(engine, "slow-tenant", slow.url)
        await asyncio.wait_for(slow.arrived.wait(), 10)  # its delivery is under way
        started = time.monotonic()
        await finish(engine, "other-tenant", fast.url)
        await asyncio.wait_for(fast.arrived.wait(), 10)
        assert time.monotonic() - started < 1.5


async def test_a_delivery_ends_at_its_deadline_however_the_receiver_drips(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "jobq.db"))
    await store.open()
    sender = CallbackSender(store, ["127.0.0.1/32"], timeout=2.0)
    try:
        async with receiving(drip=0.5) as slow:
            await finish(Engine(store, Notifier()), "q", slow.url)
            started = time.monotonic()
            assert await sender.send_due(time.time()) == 1
            await asyncio.wait_for(sender.settled(), 30)
            took = time.monotonic() - started
        [retry] = await store.due_callbacks(time.time() + 3600, 10)
        assert 1.5 < took < 3.5 and retry.attempts == 1
    finally:
        await sender.close()
        await store.close()
