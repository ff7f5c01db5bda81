"""Server configuration: one dataclass, filled from flags, JOBQ_* variables and a TOML file."""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobq.auth.guard import MAX_QUEUES_PER_USER
from jobq.auth.service import FAIL_LIMIT, FAIL_WINDOW
from jobq.model import Defaults

DEFAULT_DB = "sqlite:///jobq.db"
METRICS_QUEUES = 200  # queues labelled by name in /metrics; the rest as "(other)"


@dataclass(slots=True)
class Config:
    """What `jobq serve` runs with. Each default is written here (or where the setting
    acts, and read from there), and `jobq serve`'s options show these very values."""

    db: str = DEFAULT_DB
    host: str = "127.0.0.1"
    port: int = 8080
    log_level: str = "info"
    max_body: int = 16 * 1024 * 1024
    callback_allow: list[str] = field(default_factory=list)
    callback_timeout: float = 10.0  # seconds for a whole callback delivery, then retried later
    mounts: dict[str, str] = field(default_factory=dict)  # dialect name -> path prefix
    insecure: bool = False
    access_log: bool = False
    auth_fail_limit: int = FAIL_LIMIT  # failed authentications per client address ...
    auth_fail_window: float = FAIL_WINDOW  # ... in this many seconds, then 429
    # addresses or networks of reverse proxies whose X-Forwarded-For/-Proto are believed
    trusted_proxies: list[str] = field(default_factory=list)
    defaults: Defaults = field(default_factory=Defaults)
    auto_migrate: bool = True  # apply schema migrations at start (PostgreSQL)
    metrics_queues: int = METRICS_QUEUES
    max_queues_per_user: int = MAX_QUEUES_PER_USER  # queues a user may create (0: none)
    loop_tick: float = 0.1  # seconds between the event loop lag ticker's timers (0: off)


def read_toml(path: str | Path) -> dict[str, Any]:
    """The [serve] table (or the top level) of a TOML config file, keys with dashes as in flags."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    table = data.get("serve", data)
    return {str(k).replace("-", "_"): v for k, v in table.items()}


def parse_mounts(values: list[str]) -> dict[str, str]:
    """NAME=/prefix pairs from --mount. `NAME=/` and `NAME=` mount at the root, kept as ""
    (the routes' own paths start with "/")."""
    mounts = {}
    for value in values:
        name, sep, prefix = value.partition("=")
        if not sep or not (prefix == "" or prefix.startswith("/")):
            raise ValueError(f"--mount wants NAME=/prefix, got {value!r}")
        mounts[name.strip()] = prefix.rstrip("/")
    return mounts


def parse_proxies(values: list[str]) -> list[str]:
    """Addresses or CIDR networks from --trusted-proxy, checked (ValueError names a bad one)."""
    for value in values:
        try:
            ipaddress.ip_network(value.strip(), strict=False)
        except ValueError:
            raise ValueError(
                f"--trusted-proxy wants an IP address or network, got {value!r}"
            ) from None
    return [value.strip() for value in values]
