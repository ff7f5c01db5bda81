"""Callback receivers on loopback for tests: one that records each POST and answers at once,
and one that answers a byte every few seconds (a slow receiver)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass
class Receiver:
    """Records the path, Host header and body of every request; `drip` > 0 makes it answer
    one byte of its body every `drip` seconds."""

    host: str = "127.0.0.1"
    port: int = 0
    drip: float = 0.0
    received: list[tuple[str, str, bytes]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hook"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # cancelled too when the test ends mid-answer: a test helper may end quietly then
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            headers = dict(line.lower().split(": ", 1) for line in head[1:] if ": " in line)
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.received.append((head[0].split(" ")[1], headers.get("host", ""), body))
            self.arrived.set()
            await self._answer(writer)
        writer.close()

    async def _answer(self, writer: asyncio.StreamWriter) -> None:
        if not self.drip:
            writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
            await writer.drain()
            return
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n")
        for _ in range(1000):
            if writer.is_closing() or writer.transport.get_write_buffer_size():
                return  # the sender hung up
            await writer.drain()
            await asyncio.sleep(self.drip)
            writer.write(b"x")


@contextlib.asynccontextmanager
async def receiving(
    host: str = "127.0.0.1", port: int = 0, drip: float = 0.0
) -> AsyncIterator[Receiver]:
    receiver = Receiver(host, port, drip)
    server = await asyncio.start_server(receiver.handle, host, port)
    receiver.port = server.sockets[0].getsockname()[1]
    try:
        yield receiver
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 1)
