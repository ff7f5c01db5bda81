"""Protected mode: with no users, jobq serves loopback only, unless told --insecure."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_refusal(host: str, insecure: bool, users_exist: bool) -> str | None:
    """Why binding `host` is refused (None: it is allowed)."""
    if is_loopback(host) or users_exist or insecure:
        return None
    return (
        f"refusing to serve {host} without authentication: no users exist. Add one "
        "(jobq users add NAME --admin; jobq keys create NAME), bind 127.0.0.1, or pass "
        "--insecure to accept requests from anyone"
    )


def open_to_anyone(host: str, insecure: bool) -> bool:
    """Whether requests without auth may come from other machines (warn on each one)."""
    return insecure and not is_loopback(host)
