"""The fast path (jobq.api.http.fast) reads everything from the FastAPI route it stands in for: the
body type, the dependencies, the endpoint and the names it takes them by; a route it could not
answer as FastAPI does is refused when the app is built, not served differently."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from jobq.api.http.fast import FastRoutes, fast_routes
from jobq.api.http.limits import BodyLimit


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    size: int = 1


async def mark(request: Request) -> None:
    request.state.marked = True


def app_with_routes() -> tuple[FastAPI, list[str]]:
    app = FastAPI()
    seen: list[str] = []

    # the body first, the request by another name: the fast path follows the declaration
    @app.post("/things", dependencies=[Depends(mark)])
    async def add(thing: Thing, req: Request) -> JSONResponse:
        seen.append(f"{thing.name}:{thing.size}:{req.state.marked}")
        return JSONResponse({"name": thing.name, "size": thing.size}, status_code=201)

    @app.post("/queried")
    async def queried(thing: Thing, request: Request, n: Annotated[int, Query()] = 1) -> None:
        return None

    return app, seen


async def test_the_endpoint_gets_the_body_and_request_by_their_declared_names() -> None:
    app, seen = app_with_routes()
    app.add_middleware(FastRoutes, routes=fast_routes(app, ["/things"]))
    app.add_middleware(BodyLimit, max_body=1000)
    routed: list[str] = []
    inner = app.router.middleware_stack

    async def spy(scope: Any, receive: Any, send: Any) -> None:
        routed.append(scope["path"])
        await inner(scope, receive, send)

    app.router.middleware_stack = spy
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        r = await client.post("/things", json={"name": "a", "size": 3})
        refused = await client.post("/things", json={"name": "a", "colour": "red"})
    assert (r.status_code, r.json()) == (201, {"name": "a", "size": 3})
    assert seen == ["a:3:True"]
    assert refused.status_code == 422
    assert routed == ["/things"]  # only the refused body went on to FastAPI


def test_a_route_with_parameters_the_fast_path_does_not_pass_is_refused() -> None:
    app, _ = app_with_routes()
    with pytest.raises(TypeError, match="a request and a body only"):
        fast_routes(app, ["/queried"])
