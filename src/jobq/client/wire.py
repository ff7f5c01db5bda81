"""How `AsyncClient` puts a call on the wire with aiohttp: JSON bodies, query parameters, and
a streamed answer's lines."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

JSON_HEADERS = {"Content-Type": "application/json"}


def encode(doc: Any) -> bytes:
    """JSON as the server reads it; orjson, or the standard library for what orjson refuses
    (integers beyond 64 bits, non-string keys)."""
    try:
        return orjson.dumps(doc)
    except TypeError:
        return json.dumps(doc).encode()


def query_pairs(params: Any) -> list[tuple[str, str]] | None:
    """Query parameters as aiohttp takes them: strings, booleans spelled as JSON does."""
    if not params:
        return None
    pairs = params.items() if isinstance(params, dict) else params
    return [(k, _text(v)) for k, v in pairs if v is not None]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def lines_of(stream: aiohttp.StreamReader) -> AsyncIterator[str]:
    """The lines of a response body as they arrive, however long (an SSE data line may carry
    a log line of up to a megabyte, beyond aiohttp's own line limit)."""
    pending = b""
    async for chunk in stream.iter_any():
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.rstrip(b"\r").decode("utf-8", "replace")
    if pending:
        yield pending.rstrip(b"\r").decode("utf-8", "replace")
