"""`jobq worker`: claim jobs and run them (the process itself is jobq.worker)."""

from __future__ import annotations

from typing import Annotated

import typer

from jobq.cli.common import DEFAULT_URL, Key, Url

PREFETCH_HELP = (
    "Jobs claimed ahead of the free slots, held until one frees (default: one "
    "batch while jobs take under 0.1 s on average; 0: none)."
)


def worker(
    queue: Annotated[
        list[str] | None, typer.Option("--queue", "-q", help="Queue to claim from (repeatable).")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(min=1, max=10_000, help="Jobs run at once.")
    ] = None,
    app_ref: Annotated[
        str | None, typer.Option("--app", help="module:attr of a jobq.Worker with Python tasks.")
    ] = None,
    lease: Annotated[
        float | None, typer.Option(min=0.1, help="Lease seconds per claim (default: the job's).")
    ] = None,
    grace: Annotated[
        float | None,
        typer.Option(min=0, help="Seconds a job gets to stop (on shutdown; SIGTERM to SIGKILL)."),
    ] = None,
    batch: Annotated[
        int | None, typer.Option(min=1, max=1000, help="Jobs per claim and per acknowledgement.")
    ] = None,
    prefetch: Annotated[
        int | None,
        typer.Option(min=0, max=10_000, help=PREFETCH_HELP),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Worker name (default: host-pid).")] = None,
    max_jobs: Annotated[
        int | None,
        typer.Option(min=1, help="Exit after running this many jobs (a fresh process then)."),
    ] = None,
    burst: Annotated[
        bool,
        typer.Option(
            "--burst", help="Exit once no job is waiting and none is running (claims do not wait)."
        ),
    ] = False,
    log_level: Annotated[
        str, typer.Option(envvar="JOBQ_LOG_LEVEL", help="debug, info, warning, error.")
    ] = "info",
    loop: Annotated[
        str, typer.Option(help="Event loop: auto (uvloop if installed), uvloop, asyncio.")
    ] = "auto",
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Claim jobs and run them: commands (payload argv) and Python tasks (--app)."""
    from jobq.worker.main import main as run_worker

    overrides = {
        "queues": queue,
        "concurrency": concurrency,
        "lease": lease,
        "grace": grace,
        "batch": batch,
        "name": name,
        "prefetch": prefetch,
        "burst": burst or None,
        "max_jobs": max_jobs,
    }
    run_worker(url, app_ref, overrides, log_level, key, loop)
