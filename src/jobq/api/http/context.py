"""What the app holds for a request's handlers: the engine every interface calls.

Permission checks come from `security.guard_of(request)`; the engine from `engine_of(request)`.
"""

from __future__ import annotations

from starlette.requests import Request

from jobq.engine import Engine


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine
