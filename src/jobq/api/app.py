"""The application factory: one FastAPI app holding the native API and every dialect.

Dependencies (engine, notifier, duties) live in `app.state`, made in the lifespan, never in
module globals, so tests can build as many apps as they like.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from fastapi import APIRouter, Depends, FastAPI, params
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from fastapi.telemetry import TelemetryConfig
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from jobq import __version__, web
from jobq.api import apidocs
from jobq.api.dialects import accepted
from jobq.api.dialects.connect import routes as connect
from jobq.api.dialects.titan import v02 as titan02
from jobq.api.dialects.titan import v03 as titan03
from jobq.api.dialects.titan.shared import titan_error
from jobq.api.dialects.vidispine import routes as vidispine
from jobq.api.dialects.vidispine import wire as vidispine_wire
from jobq.api.http import errors, security
from jobq.api.http.browsers import BrowserGuard
from jobq.api.http.errors import ErrorShapes, Renderer
from jobq.api.http.fast import FastRoutes, fast_routes
from jobq.api.http.json_limits import keepable_json
from jobq.api.http.limits import BodyLimit
from jobq.api.http.responses import JSONResponse
from jobq.api.native import admin, bulk, limits, logs, problems, stats
from jobq.api.native import routes as native
from jobq.auth.protect import open_to_anyone
from jobq.auth.service import Authenticator, FailureLimiter, operation_rights
from jobq.auth.store import AuthStore, auth_store_for
from jobq.config import Config
from jobq.engine import Engine
from jobq.engine.callbacks import CallbackSender
from jobq.engine.duties import Duties
from jobq.notify import Notifier
from jobq.observe import metrics
from jobq.observe.loop_lag import LoopLag
from jobq.store import Store, open_store
from jobq.web import session, session_auth

log = logging.getLogger("jobq")
OPEN_MODE = (
    "no users yet: requests from this machine need no key; `jobq users add NAME "
    "--admin` turns authentication on (docs/auth.md)"
)

NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


DOCS_PATHS = ("/openapi.json", "/docs")  # a dialect router's own documentation
OWN_PATHS = ("/ui", "/healthz", "/readyz", "/metrics", "/docs", "/openapi.json")


@dataclass(slots=True)
class Interface:
    """Something mounted under a prefix: its router and how it renders errors."""

    name: str
    default_prefix: str
    router: Callable[[], APIRouter]
    render_error: Renderer = errors.native_error
    credentials: security.Scheme = security.BEARER  # how its requests carry an API key
    session: bool = False  # also accept the dashboard's session cookie (web/session_auth.py)


def interfaces() -> list[Interface]:
    """Every interface jobq serves, with its default mount point."""
    return [
        Interface("native", "/api/v1", native_routes, session=True),
        Interface(titan02.NAME, titan02.PREFIX, titan02.build_router, titan_error),
        Interface(titan03.NAME, titan03.PREFIX, titan03.build_router, titan_error),
        Interface(accepted.NAME, accepted.PREFIX, accepted.build_router, accepted.accepted_error),
        Interface(
            connect.NAME,
            connect.PREFIX,
            connect.build_router,
            connect.connect_error,
            credentials=security.KEY,
        ),
        Interface(
            vidispine.NAME,
            vidispine.PREFIX,
            vidispine.build_router,
            vidispine_wire.render_error,
            credentials=security.BASIC,
        ),
    ]


def native_routes() -> APIRouter:
    """The native API with its administration routes (users, keys, grants).

    One flat router, not four included ones: FastAPI matches an included router by scanning
    its routes, then scans them again to handle the request, at every level of nesting."""
    # bulk first: /jobs/bulk/retry must not be taken for /jobs/{job_id}/retry
    parts = (
        bulk.router,
        native.router,
        logs.router,
        admin.router,
        problems.router,
        stats.router,
        limits.router,
    )
    return APIRouter(routes=[route for part in parts for route in part.routes])


def add_routes(
    app: APIRouter, router: APIRouter, prefix: str, tag: str, dependencies: list[params.Depends]
) -> None:
    """What `app.include_router(router, prefix=..., tags=[tag], dependencies=...)` does, with
    the routes added to `app` itself. FastAPI 0.165 matches an included router by scanning its
    routes, then scans them again to handle the request, with scope bookkeeping around every
    candidate; a request to the last interface scanned all the others that way."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"{prefix}: only API routes can be added flat, not {route!r}")
        at = docs_at(prefix, tag) if route.path in DOCS_PATHS else prefix
        if at + route.path in OWN_PATHS:
            continue  # the app's own page (an interface at the root): served once, as it is
        options = {name: getattr(route, name) for name in ROUTE_OPTIONS}
        options.update(tags=[tag, *route.tags], dependencies=[*dependencies, *route.dependencies])
        app.add_api_route(at + route.path, route.endpoint, **options)


# what a route is made with: each option an APIRoute keeps under its own name, so a copy is
# made with every one of them, whatever FastAPI adds
ROUTE_OPTIONS = tuple(
    name
    for name in inspect.signature(APIRouter.add_api_route).parameters
    if name in inspect.signature(APIRoute.__init__).parameters
    and name not in ("self", "path", "endpoint")
)


def docs_at(prefix: str, name: str) -> str:
    """Where an interface's own /docs and /openapi.json are: under its prefix, or, for one
    mounted at the root (prefix ""), under /NAME (the root's are the app's own)."""
    return prefix or f"/{name}"


def prefix_of(config: Config, interface: Interface) -> str:
    return config.mounts.get(interface.name, interface.default_prefix)


def dialect_links(config: Config) -> str:
    """Links to each dialect's own API documentation, for the main docs page."""
    lines = [
        f"- {i.name} at `{prefix_of(config, i) or '/'}`: "
        f"[docs]({docs_at(prefix_of(config, i), i.name)}/docs)"
        for i in interfaces()
        if i.name != "native"
    ]
    return "\n\nDialects, each with its own OpenAPI document:\n\n" + "\n".join(lines)


def add_front_door(app: FastAPI, config: Config) -> None:
    """`GET /` leads a browser to the dashboard, unless an interface is mounted at the root:
    then `/` is that interface's."""
    if any(prefix_of(config, i) == "" for i in interfaces()):
        return

    async def front_door() -> RedirectResponse:
        return RedirectResponse("/ui", status_code=307)

    app.add_api_route("/", front_door, methods=["GET"], include_in_schema=False)


def make_notifier(store: Store) -> Notifier:
    make = getattr(store, "make_notifier", None)
    return make() if make is not None else Notifier()


def forget_queue(app: FastAPI, auth_store: AuthStore) -> Callable[[str], Awaitable[None]]:
    """What a deleted queue leaves to the auth store: its owner and grants go, and the
    cached roles with them."""

    async def forget(name: str) -> None:
        await auth_store.forget_queue(name)
        app.state.auth.forget()

    return forget


def lifespan_of(config: Config) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """What runs while the app serves: the store, the notifier, the engine, the duties."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(config.db, migrate=config.auto_migrate)
        await store.open()
        notifier = make_notifier(store)
        await notifier.start()
        engine = Engine(store, notifier, config.defaults)
        sender = CallbackSender(
            store,
            config.callback_allow,
            config.callback_timeout,
            shapes={"accepted": accepted.document},
        )
        duties = Duties(engine, sender)
        app.state.engine = engine
        metrics.attach(engine, app.state.metrics)
        limiter = FailureLimiter(config.auth_fail_limit, config.auth_fail_window)
        auth_store = auth_store_for(store)
        engine.runner.on_queue_dropped = forget_queue(app, auth_store)
        app.state.auth = Authenticator(
            auth_store, limiter=limiter, max_queues=config.max_queues_per_user
        )
        engine.runner.may_act = operation_rights(app.state.auth)
        app.state.open_to_anyone = open_to_anyone(config.host, config.insecure)
        if not app.state.open_to_anyone and not await auth_store.has_users():
            log.warning(OPEN_MODE)  # (a public bind without users is warned of in jobq.server)
        await duties.start()
        lag = LoopLag(app.state.metrics.registry, config.loop_tick)
        lag.start()
        app.state.ready = True
        try:
            yield
        finally:
            app.state.ready = False
            await lag.stop()
            await duties.stop()
            await notifier.stop()
            await store.close()

    return lifespan


def mount_interfaces(app: FastAPI, config: Config) -> ErrorShapes:
    """Every interface's routes at its prefix, behind its credentials, and the error shape of
    each prefix. jobq's own pages answer natively, whatever is mounted at the root."""
    shapes = ErrorShapes()
    for own in OWN_PATHS:
        shapes.register(own, errors.native_error)
    app.state.docs_mounts = {}  # where a dialect's docs are served -> its mount prefix
    for interface in interfaces():
        prefix = prefix_of(config, interface)
        by = session_auth if interface.session else security
        dependencies = [Depends(by.authenticate(interface.credentials, then=keepable_json))]
        add_routes(app.router, interface.router(), prefix, interface.name, dependencies)
        shapes.register(prefix, interface.render_error)
        app.state.docs_mounts[docs_at(prefix, interface.name)] = prefix
    return shapes


def create_app(config: Config) -> FastAPI:
    app = FastAPI(
        title="jobq",
        version=__version__,
        description="An HTTP job server. The native API is under /api/v1." + dialect_links(config),
        lifespan=lifespan_of(config),
        default_response_class=JSONResponse,
        docs_url=None,  # served by jobq.api.apidocs: behind a key, no CDN
        redoc_url=None,
        openapi_url=None,
        # jobq has its own metrics (jobq.observe.metrics); FastAPI's OpenTelemetry would
        # otherwise ask the global OpenTelemetry providers on every request whether one is
        # configured
        telemetry=NO_TELEMETRY,
    )
    shapes = mount_interfaces(app, config)
    app.include_router(session.router, prefix="/ui", tags=["dashboard"])
    web.mount(app, "/ui", config.mounts.get("native", "/api/v1"))
    apidocs.mount(app, "/ui")
    add_front_door(app, config)
    app.add_api_route("/healthz", native.healthz, methods=["GET"], tags=["health"])
    app.add_api_route("/readyz", native.readyz, methods=["GET"], tags=["health"])
    errors.install(app, shapes)
    native_prefix = config.mounts.get("native", "/api/v1")
    hot = [f"{native_prefix}/{path}" for path in ("jobs", "claim", "ack")]
    app.add_middleware(FastRoutes, routes=fast_routes(app, hot))  # inside BodyLimit
    app.add_middleware(BodyLimit, max_body=config.max_body)
    app.add_middleware(BrowserGuard, shapes=shapes)  # outside BodyLimit: refused unread
    if config.trusted_proxies:  # the client's own address, for the sign-in limiter and logs
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=config.trusted_proxies)
    metrics.install(app, metrics.Metrics(config.metrics_queues))
    return app
