"""Authentication over HTTP: credential schemes and the dependency every interface mounts.

An interface names its scheme (`Interface.credentials`); the app adds `authenticate(scheme)`
as a dependency of each of that interface's routes. Failures raise Unauthorized or RateLimited,
which the interface's own error renderer shapes (api/http/errors.py), with the scheme's
WWW-Authenticate challenge and Retry-After headers. Routes then call `await guard_of(request)`
for permission checks (jobq.auth.guard).
"""

from __future__ import annotations

import base64
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request
from fastapi.openapi.models import APIKey, APIKeyIn, HTTPBase, HTTPBearer, SecurityBase
from fastapi.security.base import SecurityBase as SecurityDependency

from jobq.auth.guard import Guard
from jobq.auth.model import OPEN, Principal
from jobq.auth.service import Authenticator
from jobq.errors import RateLimited, Unauthorized

log = logging.getLogger("jobq.auth")


@dataclass(frozen=True, slots=True)
class Credentials:
    key: str
    user: str | None = None  # HTTP basic: the user the key must belong to


Check = Callable[[Request], Awaitable[None]]


class Declared(SecurityDependency):
    """A security scheme as OpenAPI declares it (the Authorize button of /docs). As declared by
    a Scheme it checks nothing; `checking` makes the dependency that checks a request, in the
    interface's own error shape, while it declares the scheme: one dependency, not two, since
    FastAPI resolves every dependency of every request anew."""

    def __init__(self, model: SecurityBase, name: str, check: Check | None = None) -> None:
        self.model = model
        self.scheme_name = name
        self.check = check

    def checking(self, check: Check) -> Declared:
        return Declared(self.model, self.scheme_name, check)

    async def __call__(self, request: Request) -> None:
        if self.check is not None:
            await self.check(request)


@dataclass(frozen=True, slots=True)
class Scheme:
    """How an interface carries a key: a parser (None when the request has no credentials;
    Unauthorized when they are malformed), the challenge a 401 sends, and its OpenAPI
    declaration."""

    name: str
    parse: Callable[[Request], Credentials | None]
    challenge: str
    declared: Declared | None = None


def _authorization(request: Request, scheme: str) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    given, _, value = header.strip().partition(" ")
    if given.lower() != scheme.lower() or not value.strip():
        raise Unauthorized(f"expected 'Authorization: {scheme} ...'")
    return value.strip()


def parse_bearer(request: Request) -> Credentials | None:
    value = _authorization(request, "Bearer")
    return None if value is None else Credentials(value)


def parse_key(request: Request) -> Credentials | None:
    value = _authorization(request, "Key")
    return None if value is None else Credentials(value)


def parse_basic(request: Request) -> Credentials | None:
    value = _authorization(request, "Basic")
    if value is None:
        return None
    try:
        decoded = base64.b64decode(value, validate=True).decode()
    except ValueError:  # not base64 (binascii.Error), not ASCII, not UTF-8 (UnicodeDecodeError)
        raise Unauthorized("malformed HTTP basic credentials") from None
    user, sep, key = decoded.partition(":")
    if not sep or not user or not key:
        raise Unauthorized("HTTP basic credentials need a user name and a key as password")
    return Credentials(key, user)


KEY_HELP = "a jobq API key (`jobq keys create USER`)"
BEARER = Scheme(
    "bearer",
    parse_bearer,
    'Bearer realm="jobq"',
    Declared(HTTPBearer(bearerFormat="jobq_<id>_<secret>", description=KEY_HELP), "bearer"),
)
KEY = Scheme(
    "key",
    parse_key,
    'Key realm="jobq"',
    Declared(
        APIKey.model_validate(
            {
                "in": APIKeyIn.header,
                "name": "Authorization",
                "description": f"`Key KEY`: {KEY_HELP}",
            }
        ),
        "connectKey",
    ),
)
BASIC = Scheme(
    "basic",
    parse_basic,
    'Basic realm="jobq", charset="UTF-8"',
    Declared(HTTPBase(scheme="basic", description=f"the user name, and {KEY_HELP}"), "basic"),
)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def authenticator_of(request: Request) -> Authenticator:
    auth: Authenticator = request.app.state.auth
    return auth


async def identify(request: Request, scheme: Scheme) -> Principal:
    """Who sends `request`: OPEN when no users exist, else the key's holder."""
    auth = authenticator_of(request)
    if not await auth.users_exist():
        if getattr(request.app.state, "open_to_anyone", False):
            log.warning(
                "INSECURE: %s %s from %s served without authentication",
                request.method,
                request.url.path,
                client_address(request),
            )
        return OPEN
    address = client_address(request)
    wait = auth.limiter.retry_after(address)
    if wait is not None:
        raise _rate_limited(wait)
    try:
        credentials = scheme.parse(request)
        if credentials is None:
            raise _challenge(Unauthorized("authentication required: send an API key"), scheme)
        return await auth.principal(credentials.key, credentials.user)
    except Unauthorized as exc:
        if request.headers.get("authorization") is not None:
            auth.limiter.failed(address)
        raise _challenge(exc, scheme) from None


async def authenticate_request(request: Request, scheme: Scheme) -> None:
    """Set request.state.principal and .user, or raise Unauthorized or RateLimited."""
    principal = await identify(request, scheme)
    request.state.principal = principal
    request.state.user = principal.user


Identify = Callable[[Request, "Scheme"], Awaitable[None]]


def authenticate(
    scheme: Scheme, then: Check | None = None, identify: Identify = authenticate_request
) -> Check:
    """The dependency on every route of an interface: `identify` (by default
    `authenticate_request`), then `then` (a further check of every request, e.g.
    jobq.api.http.json_limits.keepable_json)."""

    async def dependency(request: Request) -> None:
        await identify(request, scheme)
        # a stream or long poll checks its caller again while it stays open (jobq.api.http.standing)
        request.state.identify_again = lambda: identify(request, scheme)
        if then is not None:
            await then(request)

    return declaring(scheme, dependency)


def declaring(scheme: Scheme, check: Check) -> Check:
    """`check`, as a dependency that also declares `scheme` in OpenAPI."""
    return check if scheme.declared is None else scheme.declared.checking(check)


async def guard_of(request: Request) -> Guard:
    """The permission checks for this request (after `authenticate` ran)."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        raise Unauthorized("this route is mounted without authentication")
    auth = authenticator_of(request)
    roles = {} if principal.admin else await auth.roles(principal)
    engine = request.app.state.engine
    return Guard(principal, roles, engine, auth.store, auth.clock(), auth.forget, auth.max_queues)


def _challenge(exc: Unauthorized, scheme: Scheme) -> Unauthorized:
    exc.headers = {"WWW-Authenticate": scheme.challenge}
    return exc


def _rate_limited(wait: float) -> RateLimited:
    seconds = max(1, math.ceil(wait))
    exc = RateLimited(
        f"too many failed authentications from this address; retry in {seconds} s",
        retry_after=seconds,
    )
    exc.headers = {"Retry-After": str(seconds)}
    return exc
