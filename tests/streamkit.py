"""A raw ASGI call for tests of long-lived answers: watch the response arrive chunk by chunk,
and hang up as a client would (which httpx's ASGI transport cannot do)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI


class RawCall:
    """`call = RawCall(app, "GET", "/path?query", headers)`, `call.start()`, then read
    `call.status`, `call.chunks`, `await call.hang_up()` or `await call.finished(timeout)`."""

    def __init__(
        self, app: FastAPI, method: str, url: str, headers: dict[str, str], body: bytes = b""
    ) -> None:
        path, _, query = url.partition("?")
        self.app = app
        self.scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "root_path": "", "query_string": query.encode(), "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        }  # fmt: skip
        self.status: int | None = None
        self.chunks: list[bytes] = []
        self.ended = False  # the server sent the response's last chunk
        self._gone = asyncio.Event()
        self._sent = False
        self._body = body
        self.task: asyncio.Task[None] | None = None

    async def _receive(self) -> dict[str, Any]:
        if not self._sent:
            self._sent = True
            return {"type": "http.request", "body": self._body, "more_body": False}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            if message.get("body"):
                self.chunks.append(message["body"])
            if not message.get("more_body", False):
                self.ended = True

    def start(self) -> RawCall:
        self.task = asyncio.create_task(self.app(self.scope, self._receive, self._send))  # type: ignore[arg-type]
        return self

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    async def finished(self, timeout: float) -> bool:
        """Whether the server ended the response within `timeout` seconds."""
        assert self.task is not None
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout)
        except TimeoutError:
            return False
        return True

    async def hang_up(self) -> None:
        self._gone.set()
        await asyncio.sleep(0.05)

    async def close(self) -> None:
        self._gone.set()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
