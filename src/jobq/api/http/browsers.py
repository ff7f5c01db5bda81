"""What a web page may make a browser do to jobq: the one middleware in front of every route.

- **Host names, with no users.** A server with no users (open mode) answers only requests whose
  Host is a loopback name (127.0.0.1 and the rest of 127/8, localhost, [::1], any port), so a
  page that rebinds its own DNS name to 127.0.0.1 reaches nothing: its requests carry its own
  name. Others get 421. `--insecure` (open to anyone, loudly logged) skips this check.
- **Cross-site writes, always.** A request that changes state (any method but GET, HEAD and
  OPTIONS, and the GET routes marked with `changes_state`, such as Titan's consume) is refused
  with 403 when a browser says another site sent it: `Sec-Fetch-Site` other than `same-origin`
  or `none` (a typed address), or, from a browser that sends no Sec-Fetch-Site, an `Origin`
  whose host is not the request's Host. Clients that are not browsers send neither header
  and are not affected; the dashboard's own requests are same-origin.
- **Security headers.** Every answer carries `X-Content-Type-Options: nosniff`; every HTML
  answer also a Content-Security-Policy (scripts, styles and connections from this origin
  only, no framing), `X-Frame-Options: DENY` and `Referrer-Policy: same-origin`.

Refusals are rendered in the error shape of the interface the path belongs to (api/http/errors.py).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi.routing import APIRoute
from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobq.api.http.errors import ErrorShapes, HttpError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SAME_SITE = frozenset({b"same-origin", b"none"})
CHANGES_STATE = "jobq_changes_state"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
EVERY_ANSWER = [(b"x-content-type-options", b"nosniff")]
HTML_ANSWER = [
    *EVERY_ANSWER,
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def changes_state(endpoint: Endpoint) -> Endpoint:
    """Mark a GET route that changes state (it hands out a job): refused cross-site."""
    setattr(endpoint, CHANGES_STATE, True)
    return endpoint


def loopback_name(host: str) -> bool:
    """Whether a Host header names this machine's loopback (any port)."""
    if host.startswith("["):
        name = host[1:].partition("]")[0]
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def origin_host(origin: bytes) -> bytes:
    """The host[:port] of an Origin header value (b"" for "null" or anything odd)."""
    _, sep, rest = origin.partition(b"://")
    return rest.lower() if sep and b"/" not in rest else b""


class BrowserGuard:
    def __init__(self, app: ASGIApp, shapes: ErrorShapes) -> None:
        self.app = app
        self.shapes = shapes
        self._state_changing_gets: list[re.Pattern[str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *_headers_for(message)]
            await send(message)

        refusal = await self.refusal(scope)
        if refusal is not None:
            await self.shapes.render(Request(scope), refusal)(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    async def refusal(self, scope: Scope) -> HttpError | None:
        headers = dict(scope["headers"])
        host = headers.get(b"host", b"").decode("latin-1")
        if host and not loopback_name(host) and await _open_to_this_machine_only(scope):
            return HttpError(
                421,
                "host_not_allowed",
                f"this server has no users, so it answers only to loopback names "
                f"(127.0.0.1, localhost, [::1]), not {host!r}; add a user "
                "(docs/auth.md) to serve other names",
                {"host": host},
            )
        site = _foreign_site(headers)
        if site is not None and self.changes_state(scope):
            return HttpError(
                403,
                "cross_site",
                "a request from another web site may not change anything here",
                {"sent_by": site},
            )
        return None

    def changes_state(self, scope: Scope) -> bool:
        if scope["method"] not in SAFE_METHODS:
            return True
        if self._state_changing_gets is None:
            self._state_changing_gets = state_changing_gets(scope["app"].router.routes)
        path = get_route_path(scope)
        return any(pattern.match(path) for pattern in self._state_changing_gets)


def state_changing_gets(routes: list[Any]) -> list[re.Pattern[str]]:
    """The path patterns of the routes marked with `changes_state`."""
    return [
        route.path_regex
        for route in routes
        if isinstance(route, APIRoute) and getattr(route.endpoint, CHANGES_STATE, False)
    ]


def _foreign_site(headers: dict[bytes, bytes]) -> str | None:
    """What says another site sent this request (None: nothing does)."""
    site = headers.get(b"sec-fetch-site")
    if site is not None:
        return None if site in SAME_SITE else f"Sec-Fetch-Site: {site.decode('latin-1')}"
    origin = headers.get(b"origin")
    if origin is None or origin_host(origin) == headers.get(b"host", b"").lower():
        return None
    return f"Origin: {origin.decode('latin-1')}"


async def _open_to_this_machine_only(scope: Scope) -> bool:
    """No users, and not --insecure: the loopback-only open mode."""
    state = scope["app"].state
    auth = getattr(state, "auth", None)
    if auth is None or getattr(state, "open_to_anyone", False):
        return False
    return not await auth.users_exist()


def _headers_for(message: Message) -> list[tuple[bytes, bytes]]:
    for name, value in message.get("headers", ()):
        if name.lower() == b"content-type":
            return HTML_ANSWER if value.startswith(b"text/html") else EVERY_ANSWER
    return EVERY_ANSWER
