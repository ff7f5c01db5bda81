"""Python tasks: `worker = jobq.Worker(...)` and `@worker.task("name")`.

    worker = jobq.Worker(queues=["emails"])

    @worker.task("send_email")
    async def send_email(job: jobq.TaskContext) -> dict:
        job.log(f"sending to {job.payload['to']}")
        job.progress(1, 2, "connected")
        return {"message_id": 42}

Start it with `jobq worker --app mymodule:worker`. A task gets a `TaskContext`; what it returns
(JSON) becomes the job's result; what it raises fails the attempt (the server retries it while
the job's retry policy allows). Sync functions run in threads; async ones on the event loop.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from jobq.client import ClaimedJob

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(slots=True)
class Settings:
    """How a worker runs; `jobq worker` flags override what the app set."""

    queues: Sequence[str] = ("default",)
    concurrency: int = 4
    lease: float | None = None  # seconds; None: each job's own lease_seconds
    grace: float = 30.0
    batch: int | None = None  # claim/ack batch size; None: the concurrency (at most 100)
    name: str | None = None
    claim_wait: float = 2.0  # long-poll seconds per claim (bounds how long shutdown waits)
    # jobs claimed beyond the free slots, held (their leases kept alive) until a slot frees;
    # None: one batch while the jobs run under QUICK_JOB seconds on average, else none
    prefetch: int | None = None
    burst: bool = False  # exit once a claim finds no job and none is running or held
    max_jobs: int | None = None  # exit after running this many jobs (None: no limit)


class Worker:
    """A set of Python tasks by job type, and the settings to run them with."""

    def __init__(
        self,
        queues: Sequence[str] = ("default",),
        *,
        concurrency: int = 4,
        lease: float | None = None,
        grace: float = 30.0,
        batch: int | None = None,
        name: str | None = None,
        prefetch: int | None = None,
    ) -> None:
        self.settings = Settings(
            list(queues), concurrency, lease, grace, batch, name, prefetch=prefetch
        )
        self.tasks: dict[str, Callable[..., Any]] = {}

    def task(self, job_type: str) -> Callable[[F], F]:
        """Register the function that runs jobs of `job_type`."""

        def register(fn: F) -> F:
            if job_type in self.tasks:
                raise ValueError(f"a task for {job_type!r} is already registered")
            self.tasks[job_type] = fn
            return fn

        return register


class TaskContext:
    """What a task gets: the job, and ways to report progress and write to its log.

    `log` and `progress` may be called from the task's thread (sync tasks) or the event loop
    (async tasks); a sync task should look at `cancel_requested` now and then, because a
    thread cannot be interrupted."""

    def __init__(
        self,
        job: ClaimedJob,
        loop: asyncio.AbstractEventLoop,
        write: Callable[[str, str], None],
        report: Callable[[dict[str, Any]], None],
    ) -> None:
        self.job = job
        self._loop = loop
        self._write = write
        self._report = report
        self._stopped = False  # set on the loop, read by a sync task's thread: a plain flag

    @property
    def id(self) -> str:
        return self.job.id

    @property
    def payload(self) -> Any:
        return self.job.payload

    @property
    def attempt(self) -> int:
        return self.job.attempt

    @property
    def type(self) -> str:
        return self.job.type

    @property
    def metadata(self) -> dict[str, str]:
        return self.job.metadata

    @property
    def cancel_requested(self) -> bool:
        """True once the job must stop (cancelled, lost, past its deadline, shutting down)."""
        return self._stopped

    def log(self, text: str, stream: str = "stdout") -> None:
        for line in str(text).splitlines() or [""]:
            self._call(self._write, line, stream)

    def progress(
        self, step: float | None = None, total: float | None = None, text: str | None = None
    ) -> None:
        progress = {"step": step, "total": total, "description": text}
        self._call(self._report, {k: v for k, v in progress.items() if v is not None})

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        if _on_loop(self._loop):
            fn(*args)
        else:
            self._loop.call_soon_threadsafe(fn, *args)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def is_async(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004
    )
