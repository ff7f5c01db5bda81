"""Run the server: `run(config)` is what `jobq serve` calls."""

from __future__ import annotations

import ipaddress
import logging

import uvicorn

from jobq.api.app import create_app
from jobq.config import Config

log = logging.getLogger("jobq")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(config: Config) -> None:
    """Secure by default: without auth, serve loopback only unless --insecure."""
    if is_loopback(config.host):
        return
    if not config.insecure:
        raise SystemExit(
            f"refusing to serve {config.host} without authentication: "
            "bind 127.0.0.1, or pass --insecure to accept requests from anyone"
        )
    log.warning("INSECURE: serving %s with no authentication", config.host)


def run(config: Config) -> None:
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    check_bind(config)
    log.info("jobq on http://%s:%d (docs at /docs), store %s", config.host, config.port, config.db)
    uvicorn.run(
        create_app(config),
        host=config.host,
        port=config.port,
        log_level=config.log_level,
        access_log=config.access_log,
        loop="auto",
        http="auto",
        timeout_keep_alive=30,
        limit_concurrency=10_000,
        timeout_graceful_shutdown=10,
    )
