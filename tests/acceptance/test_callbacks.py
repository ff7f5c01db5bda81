"""Callbacks reach a local receiver only when the operator allowed local targets."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Server

pytestmark = pytest.mark.acceptance


class Receiver:
    """A local HTTP endpoint that records every POST it gets."""

    def __init__(self) -> None:
        self.received: queue.Queue[dict[str, Any]] = queue.Queue()
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                received.put(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.http = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}/hook"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def finish(api: str, callback_url: str) -> str:
    job = httpx.post(f"{api}/jobs", json={"queue": "q", "callback_url": callback_url}).json()
    claim = {"queues": ["q"], "worker": {"name": "w"}, "wait": 5}
    [held] = httpx.post(f"{api}/claim", json=claim, timeout=10).json()["jobs"]
    httpx.post(f"{api}/jobs/{job['id']}/complete", json={"token": held["lease_token"], "result": 9})
    return str(job["id"])


def test_callback_is_delivered_to_an_allowed_local_receiver(tmp_path: Path, receiver: Receiver):
    srv = Server(f"sqlite:///{tmp_path / 'cb.db'}", "--callback-allow", "127.0.0.0/8").start()
    try:
        job_id = finish(srv.api, receiver.url)
        body = receiver.received.get(timeout=20)
        assert body["id"] == job_id and body["state"] == "succeeded" and body["result"] == 9
    finally:
        srv.stop()


def test_callback_to_loopback_is_refused_by_default(tmp_path: Path, receiver: Receiver):
    srv = Server(f"sqlite:///{tmp_path / 'cb.db'}", "--log-level", "warning").start()
    try:
        finish(srv.api, receiver.url)
        with pytest.raises(queue.Empty):
            receiver.received.get(timeout=2)
        assert "non-public" in srv.output()
    finally:
        srv.stop()
