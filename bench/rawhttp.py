"""A tiny keep-alive HTTP/1.1 client over asyncio streams.

The load generator shares 2 cores with the server it measures, so it must cost far less per
request than the server does; httpx costs about as much as a jobq request itself.
"""

from __future__ import annotations

import asyncio

import orjson


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> Connection:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    async def request(self, method: str, path: str, body: object = None,
                      headers: dict[str, str] | None = None) -> tuple[int, bytes]:  # fmt: skip
        assert self.reader is not None and self.writer is not None
        data = b"" if body is None else orjson.dumps(body)
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: "
                f"application/json\r\n{extra}Content-Length: {len(data)}\r\n\r\n")  # fmt: skip
        self.writer.write(head.encode() + data)
        return await self.response()

    async def response(self) -> tuple[int, bytes]:
        assert self.reader is not None
        header = await self.reader.readuntil(b"\r\n\r\n")
        lines = header.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await self.reader.readexactly(length) if length else b""
        return status, body
