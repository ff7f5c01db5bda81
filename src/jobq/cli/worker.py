"""`jobq worker`: claim jobs and run them (the process itself is jobq.worker)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from jobq.cli.common import DEFAULT_URL, Key, Url


def _option(
    *names: str, metavar: str | None = None, min: float | None = None, max: float | None = None
) -> Any:
    """An option of `jobq worker`, its help from HELP (by its first name)."""
    return typer.Option(*names, metavar=metavar, help=HELP[names[0]], min=min, max=max)


HELP = {
    "--queue": "Queue to claim from (repeatable).",
    "--concurrency": "Jobs run at once.",
    "--app": "module:attr of a jobq.Worker with Python tasks.",
    "--lease": "Lease seconds per claim (default: the job's).",
    "--grace": "Seconds a job gets to stop (on shutdown; SIGTERM to SIGKILL).",
    "--batch": "Jobs per claim and per acknowledgement.",
    "--prefetch": "Jobs claimed ahead of the free slots, held until one frees (default: one "
    "batch while jobs take under 0.1 s on average; 0: none).",
    "--name": "Worker name (default: host-pid).",
    "--max-jobs": "Exit after running this many jobs (a fresh process then).",
    "--burst": "Exit once no job is waiting and none is running (claims do not wait).",
    "--log-level": "debug, info, warning, error.",
    "--loop": "Event loop: auto (uvloop if installed), uvloop, asyncio.",
}
Queues = Annotated[list[str] | None, _option("--queue", "-q", metavar="QUEUE")]
Slots = Annotated[int | None, _option("--concurrency", metavar="N", min=1, max=10_000)]
AppRef = Annotated[str | None, _option("--app", metavar="MODULE:ATTR")]
Lease = Annotated[float | None, _option("--lease", metavar="SECONDS", min=0.1)]
Grace = Annotated[float | None, _option("--grace", metavar="SECONDS", min=0)]
Batch = Annotated[int | None, _option("--batch", metavar="N", min=1, max=1000)]
Prefetch = Annotated[int | None, _option("--prefetch", metavar="N", min=0, max=10_000)]
Name = Annotated[str | None, _option("--name", metavar="NAME")]
MaxJobs = Annotated[int | None, _option("--max-jobs", metavar="N", min=1)]
Burst = Annotated[bool, _option("--burst")]
LogLevel = Annotated[
    str, typer.Option(envvar="JOBQ_LOG_LEVEL", metavar="LEVEL", help=HELP["--log-level"])
]
Loop = Annotated[str, _option("--loop", metavar="LOOP")]


def worker(
    queue: Queues = None,
    concurrency: Slots = None,
    app_ref: AppRef = None,
    lease: Lease = None,
    grace: Grace = None,
    batch: Batch = None,
    prefetch: Prefetch = None,
    name: Name = None,
    max_jobs: MaxJobs = None,
    burst: Burst = False,
    log_level: LogLevel = "info",
    loop: Loop = "auto",
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Claim jobs and run them. Commands (payload argv) and Python tasks (--app); a line
    per job at info, and a summary when it stops. A command snoozes its job (runs again
    later, the attempt not used) by printing JOBQ_SNOOZE=SECONDS and exiting 75."""
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
