"""Callbacks never reach private or loopback addresses unless allowed, a redirect is checked
like the first target, and a receiver that never answers costs one bounded timeout, then a
retry later, while the server keeps serving."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobq.engine import Engine, JobSpec
from jobq.engine.callbacks import CallbackRefused, CallbackSender
from jobq.model import ClaimSpec, Worker
from jobq.notify import Notifier
from jobq.store.sqlite import SQLiteStore
from tests.conftest import Server
from tests.reliability.figures import record

pytestmark = pytest.mark.reliability

REFUSED = [
    "http://127.0.0.1:9/hook", "http://localhost:9/hook", "http://[::1]:9/hook",
    "http://10.0.0.1/hook", "http://192.168.1.1/hook", "http://172.16.0.1/hook",
    "http://169.254.169.254/latest/meta-data", "http://0.0.0.0:9/", "http://2130706433:9/",
    "http://0x7f.0.0.1:9/", "http://[::ffff:127.0.0.1]:9/", "http://100.64.0.1/",
    "ftp://example.com/", "file:///etc/passwd", "http:///nohost",
]  # fmt: skip


async def refusals(sender: CallbackSender) -> list[str]:
    """The URLs of REFUSED that `sender` does refuse."""
    refused = []
    for url in REFUSED:
        try:
            await sender.pin(url)
        except (CallbackRefused, OSError, ValueError):
            refused.append(url)
    return refused


async def test_private_and_loopback_targets_are_refused_unless_allowed(tmp_path: Path):
    store = SQLiteStore(str(tmp_path / "jobq.db"))
    strict, allowing = CallbackSender(store), CallbackSender(store, ["127.0.0.0/8"])
    try:
        refused = await refusals(strict)
        assert sorted(refused) == sorted(REFUSED)
        await allowing.pin("http://127.0.0.1:9/hook")  # allowed: no exception
        with pytest.raises(CallbackRefused):
            await allowing.pin("http://10.0.0.1/hook")  # only what was allowed
    finally:
        await strict.close()
        await allowing.close()
    record("callbacks_refused_targets", urls_checked=len(REFUSED), refused=len(refused))


class Receiver:
    """An HTTP endpoint on `host`: records POSTs; redirects them to `redirect_to` if set."""

    def __init__(self, host: str, redirect_to: str | None = None) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                hits.append(self.path)
                self.send_response(307 if redirect_to else 204)
                if redirect_to:
                    self.send_header("Location", redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.http.server_port}/hook"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def inner() -> Iterator[Receiver]:
    """The redirect's target, on 127.0.0.1 (not allowed in the first case)."""
    r = Receiver("127.0.0.1")
    yield r
    r.close()


@pytest.fixture
def outer(inner: Receiver) -> Iterator[Receiver]:
    """The callback URL, on 127.0.0.2 (another loopback address), redirecting to `inner`."""
    r = Receiver("127.0.0.2", redirect_to=inner.url)
    yield r
    r.close()


async def test_a_redirect_into_a_refused_address_is_not_followed(
    tmp_path: Path, outer: Receiver, inner: Receiver
):
    store = SQLiteStore(str(tmp_path / "jobq.db"))
    only_outer = CallbackSender(store, ["127.0.0.2/32"], timeout=10)
    both = CallbackSender(store, ["127.0.0.0/8"], timeout=10)
    try:
        with pytest.raises(CallbackRefused, match=r"127\.0\.0\.1"):
            await only_outer.post(outer.url, {"id": "x"})
        assert len(outer.hits) == 1 and inner.hits == []  # reached the first, not the second
        await both.post(outer.url, {"id": "x"})  # control: allowed, the redirect is followed
        assert len(outer.hits) == 2 and len(inner.hits) == 1
    finally:
        await only_outer.close()
        await both.close()
    record("callbacks_redirect_checked", redirects_into_refused=1, followed=0,
           control_followed_when_allowed=1)  # fmt: skip


@pytest.fixture
def silent() -> Iterator[str]:
    """A receiver that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    stop.set()
    thread.join(5)
    for s in accepted:
        s.close()
    listener.close()


async def finished_job_with_callback(engine: Engine, url: str) -> str:
    [(job, _)] = await engine.enqueue([JobSpec(queue="q", callback_url=url)])
    [held] = await engine.claim(ClaimSpec(["q"], None, 1, None, Worker("w")))
    await engine.complete(job.id, held.lease_token or "", result=1)
    return job.id


async def test_a_receiver_that_never_answers_times_out_and_is_retried_later(
    tmp_path: Path, silent: str
):
    store = SQLiteStore(str(tmp_path / "jobq.db"))
    await store.open()
    sender = CallbackSender(store, ["127.0.0.0/8"], timeout=1.0)
    try:
        await finished_job_with_callback(Engine(store, Notifier()), silent)
        ticks = 0

        async def tick() -> None:  # the event loop keeps running meanwhile
            nonlocal ticks
            while True:
                await asyncio.sleep(0.05)
                ticks += 1

        ticker = asyncio.create_task(tick())
        started = time.monotonic()
        sent = await sender.send_due(time.time())
        await asyncio.wait_for(sender.settled(), 30)
        took = time.monotonic() - started
        ticker.cancel()
        retry = await store.due_callbacks(time.time() + 3600, 10)
        assert sent == 1 and took < 20 and ticks > 5
        assert [c.attempts for c in retry] == [1] and retry[0].next_at > time.time()
    finally:
        await sender.close()
        await store.close()
    record("callbacks_timeout", timeout_s=1.0, gave_up_after_s=round(took, 2),
           loop_ticks_meanwhile=ticks, retry_scheduled=True)  # fmt: skip


def test_a_silent_receiver_does_not_stop_a_real_server(tmp_path: Path, silent: str):
    srv = Server(
        f"sqlite:///{tmp_path / 'cb.db'}",
        "--callback-allow",
        "127.0.0.0/8",
        "--callback-timeout",
        "1",
    )
    srv.start(timeout=60)
    try:
        job = httpx.post(f"{srv.api}/jobs", json={"queue": "q", "callback_url": silent}).json()
        claim = {"queues": ["q"], "worker": {"name": "w"}, "wait": 5}
        [held] = httpx.post(f"{srv.api}/claim", json=claim, timeout=30).json()["jobs"]
        body = {"token": held["lease_token"], "result": 1}
        assert httpx.post(f"{srv.api}/jobs/{job['id']}/complete", json=body).status_code == 200
        completed = time.monotonic()
        served, give_up = 0, completed + 120
        while "failed" not in srv.output() and time.monotonic() < give_up:
            assert httpx.get(f"{srv.url}/healthz", timeout=10).status_code == 200
            served += 1
            time.sleep(0.2)
        assert "callback for job" in srv.output()  # the delivery gave up after its timeout
        # it gave up after --callback-timeout's 1 s: the default 10 s could not be over yet
        assert time.monotonic() - completed < 10
    finally:
        srv.stop()
    record("callbacks_silent_receiver_real_server", requests_served_while_waiting=served)
