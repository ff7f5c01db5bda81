"""Server-sent events: framing and a keep-alive so idle streams survive proxies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import StreamingResponse

KEEPALIVE_SECONDS = 15.0


def frame(data: Any, event: str | None = None, id: str | int | None = None) -> bytes:
    head = b""
    if id is not None:
        head += f"id: {id}\n".encode()
    if event is not None:
        head += f"event: {event}\n".encode()
    return head + b"data: " + orjson.dumps(data) + b"\n\n"


KEEPALIVE = b": keep-alive\n\n"


def stream(request: Request, source: AsyncIterator[bytes]) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        async for chunk in source:
            if await request.is_disconnected():
                return
            yield chunk

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)
