"""`jobq serve`: run the job server.

Every option is also a JOBQ_* environment variable and a key of the [serve] table of the
--config TOML file; flags win over variables, variables over the file. Each option's type and
help is declared once below, so `serve` reads as its list of options and their defaults.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from jobq.cli.db import check_db_url
from jobq.config import Config, parse_mounts, parse_proxies, read_toml
from jobq.model import Defaults

SERVE = Config()  # `serve`'s option defaults are these (and JOB's): each written once, there
JOB = SERVE.defaults


def _config_defaults(ctx: typer.Context, param: Any, path: str | None) -> str | None:
    """Load --config early so its values become the defaults of the other options."""
    if path:
        ctx.default_map = {**(ctx.default_map or {}), **read_toml(path)}
    return path


Db = Annotated[
    str,
    typer.Option(
        envvar="JOBQ_DB", help="sqlite:///PATH[?cache_mib=N] or postgresql://...[?pool_size=N]"
    ),
]
Host = Annotated[str, typer.Option(envvar="JOBQ_HOST", help="Address to bind.")]
Port = Annotated[int, typer.Option(envvar="JOBQ_PORT", help="Port to bind.")]
LogLevel = Annotated[
    str, typer.Option(envvar="JOBQ_LOG_LEVEL", help="debug, info, warning, error.")
]
MaxBody = Annotated[
    int, typer.Option(envvar="JOBQ_MAX_BODY", help="Largest request body in bytes (413 above).")
]
CallbackAllow = Annotated[
    list[str] | None,
    typer.Option(
        envvar="JOBQ_CALLBACK_ALLOW",
        help="CIDR whose private addresses callbacks may reach (repeatable).",
    ),
]
CallbackTimeout = Annotated[
    float,
    typer.Option(
        envvar="JOBQ_CALLBACK_TIMEOUT",
        min=0.1,
        help="Seconds a callback's whole delivery may take (then it is retried later).",
    ),
]
Mount = Annotated[
    list[str] | None,
    typer.Option(
        envvar="JOBQ_MOUNT",
        help="Serve an interface at another prefix: NAME=/prefix, or NAME=/ for the "
        "root, beside the others (repeatable).",
    ),
]
Insecure = Annotated[
    bool,
    typer.Option(envvar="JOBQ_INSECURE", help="Allow a non-loopback bind without authentication."),
]
AccessLog = Annotated[bool, typer.Option(envvar="JOBQ_ACCESS_LOG", help="Log every request.")]
AuthFailLimit = Annotated[
    int,
    typer.Option(
        envvar="JOBQ_AUTH_FAIL_LIMIT",
        help="Failed authentications per client address per window before 429.",
    ),
]
AuthFailWindow = Annotated[
    float, typer.Option(envvar="JOBQ_AUTH_FAIL_WINDOW", help="That window, in seconds.")
]
TrustedProxy = Annotated[
    list[str] | None,
    typer.Option(
        envvar="JOBQ_TRUSTED_PROXY",
        help="Address or network of a reverse proxy whose X-Forwarded-For and "
        "X-Forwarded-Proto are believed (repeatable); from anyone else they are ignored.",
    ),
]
LeaseSeconds = Annotated[
    float, typer.Option(envvar="JOBQ_LEASE_SECONDS", help="Default lease of a claimed job.")
]
MaxAttempts = Annotated[
    int, typer.Option(envvar="JOBQ_MAX_ATTEMPTS", help="Default attempts per job.")
]
ResultTtl = Annotated[
    float | None,
    typer.Option(envvar="JOBQ_RESULT_TTL", help="Default seconds a finished job is kept."),
]
MaxLogBytes = Annotated[
    int | None,
    typer.Option(
        envvar="JOBQ_MAX_LOG_BYTES",
        min=1,
        help="Largest log a job keeps, in bytes; output beyond it is cut (and marked).",
    ),
]
IdleAfter = Annotated[
    float,
    typer.Option(
        envvar="JOBQ_IDLE_AFTER",
        min=0.0,
        help="Seconds waiting jobs go untaken, with no worker for them, before jobq "
        "reports a no_worker problem (Vidispine shows the jobs WAITING).",
    ),
]
AutoMigrate = Annotated[
    bool,
    typer.Option(
        envvar="JOBQ_AUTO_MIGRATE",
        help="Apply database migrations at start (else refuse an old schema).",
    ),
]
MetricsQueues = Annotated[
    int,
    typer.Option(
        envvar="JOBQ_METRICS_QUEUES",
        min=0,
        help="Queues labelled by name in /metrics (the first seen); later ones as (other).",
    ),
]
MaxQueuesPerUser = Annotated[
    int,
    typer.Option(
        envvar="JOBQ_MAX_QUEUES_PER_USER",
        min=0,
        help="Queues a user may create by enqueueing into a new name (0: only "
        "administrators create queues).",
    ),
]
LoopTick = Annotated[
    float,
    typer.Option(
        envvar="JOBQ_LOOP_TICK",
        min=0.0,
        help="Seconds between the timers that measure event loop lag (0: off).",
    ),
]
ConfigFile = Annotated[
    str | None,
    typer.Option(
        envvar="JOBQ_CONFIG",
        help="TOML file with a [serve] table.",
        is_eager=True,
        callback=_config_defaults,
    ),
]


def serve(
    db: Db = SERVE.db,
    host: Host = SERVE.host,
    port: Port = SERVE.port,
    log_level: LogLevel = SERVE.log_level,
    max_body: MaxBody = SERVE.max_body,
    callback_allow: CallbackAllow = None,
    callback_timeout: CallbackTimeout = SERVE.callback_timeout,
    mount: Mount = None,
    insecure: Insecure = SERVE.insecure,
    access_log: AccessLog = SERVE.access_log,
    auth_fail_limit: AuthFailLimit = SERVE.auth_fail_limit,
    auth_fail_window: AuthFailWindow = SERVE.auth_fail_window,
    trusted_proxy: TrustedProxy = None,
    lease_seconds: LeaseSeconds = JOB.lease_seconds,
    max_attempts: MaxAttempts = JOB.max_attempts,
    result_ttl: ResultTtl = JOB.result_ttl,
    max_log_bytes: MaxLogBytes = JOB.max_log_bytes,
    idle_after: IdleAfter = JOB.idle_after,
    auto_migrate: AutoMigrate = SERVE.auto_migrate,
    metrics_queues: MetricsQueues = SERVE.metrics_queues,
    max_queues_per_user: MaxQueuesPerUser = SERVE.max_queues_per_user,
    loop_tick: LoopTick = SERVE.loop_tick,
    config: ConfigFile = None,
) -> None:
    """Run the job server."""
    config_of_options = config_from(locals())  # before any other local name exists
    from jobq.server import run

    run(config_of_options)


JOB_OPTIONS = ("lease_seconds", "max_attempts", "result_ttl", "max_log_bytes", "idle_after")


def config_from(options: dict[str, Any]) -> Config:
    """The server's Config from `jobq serve`'s options (named as Config names them, but for
    the repeatable --mount and --trusted-proxy, and the job defaults, which Defaults holds)."""
    o = {k: v for k, v in options.items() if k != "config"}  # the file was read eagerly
    try:
        o["mounts"] = parse_mounts(o.pop("mount") or [])
        o["trusted_proxies"] = parse_proxies(o.pop("trusted_proxy") or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    check_db_url(o["db"])
    o["callback_allow"] = o["callback_allow"] or []
    o["defaults"] = Defaults(**{name: o.pop(name) for name in JOB_OPTIONS})
    return Config(**o)
