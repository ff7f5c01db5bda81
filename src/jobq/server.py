"""Run the server: `run(config)` is what `jobq serve` calls."""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from jobq.api.app import create_app
from jobq.auth.protect import bind_refusal, is_loopback
from jobq.auth.store import auth_store_for
from jobq.config import Config
from jobq.heap import freeze_startup_objects
from jobq.store import open_store

log = logging.getLogger("jobq")


async def users_exist(db: str) -> bool:
    store = open_store(db)
    await store.open()
    try:
        return await auth_store_for(store).has_users()
    finally:
        await store.close()


def check_bind(config: Config) -> None:
    """Secure by default: with no users (no auth), serve loopback only unless --insecure."""
    if is_loopback(config.host):
        return
    exist = asyncio.run(users_exist(config.db))
    refusal = bind_refusal(config.host, config.insecure, exist)
    if refusal is not None:
        raise SystemExit(refusal)
    if not exist:
        log.warning("INSECURE: serving %s with no authentication", config.host)


def run(config: Config) -> None:
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    check_bind(config)
    log.info(
        "jobq on http://%s:%d (dashboard at /ui/, API docs at /docs), store %s",
        config.host,
        config.port,
        config.db,
    )
    app = create_app(config)
    freeze_startup_objects()
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        log_level=config.log_level,
        access_log=config.access_log,
        loop="auto",
        http="auto",
        timeout_keep_alive=30,
        limit_concurrency=10_000,
        timeout_graceful_shutdown=10,
        # X-Forwarded-* are believed only from --trusted-proxy (jobq.api.app), not from
        # whatever uvicorn trusts by default (127.0.0.1, or FORWARDED_ALLOW_IPS)
        proxy_headers=False,
    )
