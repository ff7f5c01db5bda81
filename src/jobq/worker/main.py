"""`jobq worker`: load the app (if any), merge the flags into its settings, run until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import typer

from jobq.heap import freeze_startup_objects
from jobq.worker.app import Worker
from jobq.worker.runner import Refused, serve


def load_app(ref: str | None) -> Worker:
    """`module:attr` naming a jobq.Worker (the current directory is importable), or a worker
    with no tasks (commands only)."""
    if ref is None:
        return Worker()
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise typer.BadParameter(f"--app wants module:attr, got {ref!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise typer.BadParameter(f"cannot import {module_name!r}: {exc}") from None
    app = getattr(module, attr, None)
    if not isinstance(app, Worker):
        raise typer.BadParameter(f"{ref} is not a jobq.Worker (got {type(app).__name__})")
    return app


LOOPS = ("auto", "uvloop", "asyncio")
LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def loop_factory(name: str) -> LoopFactory | None:
    """The event loop a worker runs on: uvloop where it is installed ("auto"; it comes with
    uvicorn[standard], and a worker spends about a sixth less CPU per job on it), or asyncio's
    own ("asyncio"; None here), for tasks whose libraries need it."""
    if name not in LOOPS:
        raise typer.BadParameter(f"--loop wants one of {', '.join(LOOPS)}, got {name!r}")
    if name == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if name == "uvloop":
            raise typer.BadParameter("--loop uvloop: uvloop is not installed") from None
        return None
    return uvloop.new_event_loop


def main(
    url: str,
    app_ref: str | None,
    overrides: dict[str, Any],
    log_level: str,
    key: str | None = None,
    loop: str = "auto",
) -> None:
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
    app = load_app(app_ref)
    given = {k: v for k, v in overrides.items() if v is not None and v != []}
    settings = dataclasses.replace(app.settings, **given)
    factory = loop_factory(loop)
    freeze_startup_objects()
    try:
        # KeyboardInterrupt: a signal before the worker's own handlers were set
        with contextlib.suppress(KeyboardInterrupt), asyncio.Runner(loop_factory=factory) as run:
            run.run(serve(app, url, settings, key))
    except Refused as exc:
        hint = "" if key else " (no API key given: pass --key or set JOBQ_KEY)"
        typer.echo(f"jobq worker: the server refused this worker: {exc}{hint}", err=True)
        raise typer.Exit(2) from None
