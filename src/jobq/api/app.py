"""The application factory: one FastAPI app holding the native API and every dialect.

Dependencies (engine, notifier, duties) live in `app.state`, made in the lifespan, never in
module globals, so tests can build as many apps as they like.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI

from jobq import __version__
from jobq.api import errors, native, problems
from jobq.api.dialects import vidispine, vidispine_wire
from jobq.api.errors import ErrorShapes, Renderer
from jobq.api.limits import BodyLimit
from jobq.api.responses import JSONResponse
from jobq.callbacks import CallbackSender
from jobq.config import Config
from jobq.duties import Duties
from jobq.engine import Engine
from jobq.notify import Notifier
from jobq.store import open_store
from jobq.store.base import Store


@dataclass(slots=True)
class Interface:
    """Something mounted under a prefix: its router and how it renders errors."""

    name: str
    default_prefix: str
    router: Callable[[], APIRouter]
    render_error: Renderer = errors.native_error


def interfaces() -> list[Interface]:
    """Every interface jobq serves, with its default mount point."""
    return [
        Interface("native", "/api/v1", lambda: native.router),
        Interface("problems", "/api/v1", lambda: problems.router),
        Interface(
            vidispine.NAME, vidispine.PREFIX, vidispine.build_router, vidispine_wire.render_error
        ),
    ]


def make_notifier(store: Store) -> Notifier:
    make = getattr(store, "make_notifier", None)
    return make() if make is not None else Notifier()


def create_app(config: Config) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(config.db)
        await store.open()
        notifier = make_notifier(store)
        await notifier.start()
        engine = Engine(store, notifier, config.defaults)
        duties = Duties(engine, CallbackSender(store, config.callback_allow))
        app.state.engine = engine
        await duties.start()
        app.state.ready = True
        try:
            yield
        finally:
            app.state.ready = False
            await duties.stop()
            await notifier.stop()
            await store.close()

    app = FastAPI(
        title="jobq",
        version=__version__,
        description="An HTTP job server. The native API is under /api/v1.",
        lifespan=lifespan,
        default_response_class=JSONResponse,
    )
    shapes = ErrorShapes()
    for interface in interfaces():
        prefix = config.mounts.get(interface.name, interface.default_prefix)
        app.include_router(interface.router(), prefix=prefix, tags=[interface.name])
        shapes.register(prefix, interface.render_error)
    app.add_api_route("/healthz", native.healthz, methods=["GET"], tags=["health"])
    app.add_api_route("/readyz", native.readyz, methods=["GET"], tags=["health"])
    errors.install(app, shapes)
    app.add_middleware(BodyLimit, max_body=config.max_body)
    return app
