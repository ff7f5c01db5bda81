"""The hot routes (enqueue, claim, acknowledge) without FastAPI's per-request machinery.

A worker's claim is the request jobq answers most. Through FastAPI it passes two more
middlewares, the router's scan of every route, the dependency solver and the stdlib JSON
parser before its endpoint runs: measured, more than half of the event loop's time per claim.
`FastRoutes` answers these few routes itself with the very functions FastAPI would call:

- the body is validated by a Pydantic TypeAdapter of the route's body model, straight from the
  bytes `BodyLimit` read (one pass in Rust, no dict in between);
- the route's own dependencies (the interface's authentication and its JSON checks) run with
  the request, then the route's endpoint, whose Response is sent as FastAPI would send it;
- a JobqError (or an HTTPException) goes to the app's exception handler for it, as it would
  from a route.

Whatever it does not answer exactly as FastAPI would goes on to FastAPI untouched: another
content type, and every body the model refuses (FastAPI renders the 422 in the interface's
shape, after authentication, in its usual order). The routes stay declared in FastAPI, so
OpenAPI documents them; `scope["route"]` is set, so metrics name them by their template.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette._utils import get_route_path
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from jobq.api.json_limits import is_json
from jobq.errors import JobqError

Check = Callable[[Request], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class FastRoute:
    route: APIRoute
    body: TypeAdapter[Any]
    checks: tuple[Check, ...]  # the route's dependencies, in order

    @classmethod
    def of(cls, route: APIRoute, body: Any) -> FastRoute:
        checks = tuple(depends.dependency for depends in route.dependencies)
        if any(check is None for check in checks):
            raise TypeError(f"{route.path}: a dependency without a callable")
        return cls(route, TypeAdapter(body), checks)  # type: ignore[arg-type]


def fast_routes(app: FastAPI, bodies: dict[str, Any]) -> dict[str, FastRoute]:
    """The POST routes of `app` at the paths in `bodies` (path: the model of its body)."""
    found = {
        route.path: FastRoute.of(route, bodies[route.path])
        for route in app.router.routes
        if isinstance(route, APIRoute) and route.path in bodies and "POST" in (route.methods or ())
    }
    missing = set(bodies) - set(found)
    if missing:
        raise LookupError(f"no POST route at {sorted(missing)}")
    return found


class FastRoutes:
    """ASGI middleware, inside BodyLimit (whose `jobq.body` it reads)."""

    def __init__(self, app: ASGIApp, routes: dict[str, FastRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self._route(scope)
        body = scope.get("jobq.body")
        if fast is None or not isinstance(body, bytes):
            await self.app(scope, receive, send)
            return
        try:
            parsed = fast.body.validate_json(body)
        except ValidationError:
            await self.app(scope, receive, send)  # FastAPI answers, in the interface's shape
            return
        scope.update(route=fast.route, endpoint=fast.route.endpoint, path_params={})
        await receive()  # the body, as BodyLimit replays it: read, as FastAPI would read it, so
        request = Request(scope, receive)  # that is_disconnected sees the connection itself
        try:
            for check in fast.checks:
                await check(request)
            response: Response = await fast.route.endpoint(request, parsed)
        except (JobqError, HTTPException) as exc:
            response = await _handled(request, exc)
        await response(scope, receive, send)

    def _route(self, scope: Scope) -> FastRoute | None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        fast = self.routes.get(get_route_path(scope))
        if fast is None or not _is_json(scope):
            return None
        return fast


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return is_json(value.decode("latin-1"))
    return False


async def _handled(request: Request, exc: Exception) -> Response:
    """The app's answer to `exc`, from the handler a route's error would reach."""
    handlers = request.app.exception_handlers
    for kind in type(exc).__mro__:
        handler = handlers.get(kind)
        if handler is not None:
            response: Response = await handler(request, exc)
            return response
    raise exc
