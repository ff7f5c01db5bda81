"""The hot routes (enqueue, claim, acknowledge) without FastAPI's per-request machinery.

A worker's claim is the request jobq answers most. Through FastAPI it passes two more
middlewares, the router's scan of every route, the dependency solver and the stdlib JSON
parser before its endpoint runs: measured, more than half of the event loop's time per claim.
`FastRoutes` answers these few routes itself with the very functions FastAPI would call:

- the body is validated by a Pydantic TypeAdapter of the route's declared body type, straight
  from the bytes `BodyLimit` read (one pass in Rust, no dict in between);
- the route's own dependencies (the interface's authentication and its JSON checks) run with
  the request, then the route's endpoint, whose Response is sent as FastAPI would send it;
- a JobqError (or an HTTPException) goes to the app's exception handler for it, as it would
  from a route.

All of it is read from the FastAPI route, so the route stays the one declaration: its body
type, its dependencies, its endpoint and the names the endpoint takes them by. A route the
fast path could not answer as FastAPI does (path or query parameters, an embedded or missing
body, dependencies of its endpoint's own) is refused when the app is built.

Whatever it does not answer exactly as FastAPI would goes on to FastAPI untouched: another
content type, a request under a root path, and every body the type refuses (FastAPI renders
the 422 in the interface's shape, after authentication, in its usual order). `scope["route"]`
is set, so metrics name the routes by their template.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import Discriminator, Field, Tag, TypeAdapter, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from jobq.api.http.json_limits import is_json
from jobq.errors import JobqError

Check = Callable[[Request], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class FastRoute:
    route: APIRoute
    body: TypeAdapter[Any]
    checks: tuple[Check, ...]  # the route's dependencies, in order
    request_name: str  # the names the endpoint takes the request and the body by
    body_name: str

    @classmethod
    def of(cls, route: APIRoute) -> FastRoute:
        got = route.dependant
        endpoints_own = got.dependencies[len(route.dependencies) :]
        params = (got.path_params, got.query_params, got.header_params, got.cookie_params)
        if any(params) or endpoints_own or got.request_param_name is None:
            raise TypeError(f"{route.path}: the fast path passes a request and a body only")
        if len(got.body_params) != 1:
            raise TypeError(f"{route.path}: the fast path passes one body")
        checks = tuple(depends.dependency for depends in route.dependencies)
        if any(check is None for check in checks):
            raise TypeError(f"{route.path}: a dependency without a callable")
        body = body_reading(route)
        return cls(route, body, checks, got.request_param_name, got.body_params[0].name)  # type: ignore[arg-type]


def body_reading(route: APIRoute) -> TypeAdapter[Any]:
    """The route's body type as the fast path reads it: as declared, but for a union whose
    member a function picks (a callable `Discriminator`, for which Pydantic first builds the
    body's dicts to call it: a batch of 100 jobs 1.38 against 1.67 us per job), read by trying
    its members in turn, in Rust. The same bodies give the same models where each member
    refuses what another accepts (extra="forbid"; tests/unit/test_enqueue_body.py); a body it
    refuses goes on to FastAPI, which answers with the declared type's errors."""
    field = route.body_field
    if field is None or getattr(field.field_info, "embed", False):
        raise TypeError(f"{route.path}: the fast path reads a whole body, not an embedded one")
    declared = field.field_info.annotation
    metadata = field.field_info.metadata
    if any(isinstance(m, Discriminator) and callable(m.discriminator) for m in metadata):
        members = sorted((_untagged(m) for m in get_args(declared)), key=_demands, reverse=True)
        in_turn: Any = Annotated[Union[tuple(members)], Field(union_mode="left_to_right")]  # noqa: UP007
        return TypeAdapter(in_turn)
    as_declared: Any = Annotated[declared, field.field_info]
    return TypeAdapter(as_declared)


def _untagged(member: Any) -> Any:
    """A union member without its `Tag` (only the discriminator reads it)."""
    if get_origin(member) is not Annotated:
        return member
    base, *metadata = get_args(member)
    kept = tuple(m for m in metadata if not isinstance(m, Tag))
    return Annotated[(base, *kept)] if kept else base


def _demands(member: Any) -> int:
    """How many fields `member` requires. Members that require most are tried first: a body
    without those fields is refused at once, while a member that requires nothing refuses a
    body meant for another only on its unknown field, after building that field's value for
    the error (a batch of 100 jobs tried as one job first: +0.45 us per job)."""
    model = get_args(member)[0] if get_origin(member) is Annotated else member
    fields = getattr(model, "model_fields", {})
    return sum(f.is_required() for f in fields.values())


def fast_routes(app: FastAPI, paths: Collection[str]) -> dict[str, FastRoute]:
    """The POST routes of `app` at `paths`, each read from its FastAPI declaration."""
    found = {
        route.path: FastRoute.of(route)
        for route in app.router.routes
        if isinstance(route, APIRoute) and route.path in paths and "POST" in (route.methods or ())
    }
    missing = set(paths) - set(found)
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
            response: Response = await fast.route.endpoint(
                **{fast.request_name: request, fast.body_name: parsed}
            )
        except (JobqError, HTTPException) as exc:
            response = await _handled(request, exc)
        await response(scope, receive, send)

    def _route(self, scope: Scope) -> FastRoute | None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
            return None
        fast = self.routes.get(scope["path"])
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
