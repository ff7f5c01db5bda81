"""An in-process jobq app (lifespan and background duties running) behind an httpx client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from jobq.api.app import create_app
from jobq.config import Config

WAIT = 30.0  # generous: a loaded 2-core machine


@asynccontextmanager
async def app_client(db: str, **config: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a running app on the database at `db` (conftest's `store_url`)."""
    app = create_app(Config(db=db, **config))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield client


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = WAIT) -> Any:
    """Poll `check` until it returns something truthy (or fail after `timeout` seconds)."""
    give_up = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < give_up, "condition not reached in time"
        await asyncio.sleep(0.1)
