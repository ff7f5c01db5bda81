"""What the engine answers without changing a job: lookups, listings, logs, the news streams
wait on, queues, statistics, problems and health.

`Engine` (jobq.engine.core) is a `Reads`: interfaces ask it, never the store or the notifier,
so the notifier's channel names and the store's queries stay below the interfaces.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace

from jobq import fields, loglimit
from jobq.engine.limits import paused_among
from jobq.engine.listing import SCAN_LIMIT, Page, Scan, Situation, refine
from jobq.engine.problems import Problem, ProblemFinder, holds
from jobq.engine.stats import QueueSnapshot, QueueStatsCache, ThroughputCache, is_live
from jobq.errors import InvalidInput, NotFound
from jobq.model import (
    ID_PREFIX_WINDOW,
    Attempt,
    Defaults,
    FinishedCount,
    Job,
    JobQuery,
    LogEntry,
    QueueSettings,
    QueueStats,
    WorkerSeen,
)
from jobq.notify import Listener, Notifier
from jobq.states import TERMINAL, WAITING
from jobq.store.base import Store

EVENTS = "events"  # the notifier's channel of every transition (see Engine._publish)
WIRE_ID = re.compile(r"^[A-Za-z_]+-([0-9]{1,18})$")  # `VX-<seq>`: a job named by its seq
MAX_ID_LENGTH = 100  # longer ids name no job (and are not looked up)
ID_PREFIX = re.compile(r"^[0-9a-f-]{1,36}$")  # the start of a jobq id (a UUID in lower case)

# What a stream waits on: `wait(timeout)` returns True when there is news (False when the
# timeout passed without any); the event stream's `drain()` hands the events that came.
News = Listener


def job_channel(job_id: str) -> str:
    """The channel woken when the job finishes or is asked to stop."""
    return f"job:{job_id}"


def logs_channel(job_id: str) -> str:
    """The channel woken when the job's log grows."""
    return f"logs:{job_id}"


def id_prefix(prefix: str) -> str:
    """`prefix` in lower case, if it can begin a jobq id (hex digits and dashes, at most 36)."""
    lowered = prefix.lower()
    if ID_PREFIX.match(lowered) is None:
        raise InvalidInput(
            "an id prefix holds 1 to 36 hex digits and dashes", field="id_prefix", id_prefix=prefix
        )
    return lowered


class Reads:
    store: Store
    notifier: Notifier
    defaults: Defaults
    clock: Callable[[], float]
    problem_finder: ProblemFinder
    queue_stats: QueueStatsCache
    throughput_cache: ThroughputCache

    # --- jobs ---

    async def get(self, job_id: str) -> Job:
        job = await self.store.get(job_id)
        if job is None:
            raise NotFound("job not found", id=job_id)
        return job

    async def find(self, job_id: str) -> Job | None:
        """The job with jobq id `job_id`, or None."""
        return await self.store.get(job_id)

    async def lookup(self, ident: str) -> Job | None:
        """The job any id form names, or None: a jobq id, or `PREFIX-<seq>` (Vidispine's
        `VX-<seq>`, any letters before the dash) for the job with that seq."""
        match = WIRE_ID.match(ident)
        if match is None:
            return await self.store.get(ident) if len(ident) <= MAX_ID_LENGTH else None
        seq = int(match.group(1))
        after = JobQuery(sort="seq", after=(seq - 1, seq - 1), limit=1)
        found = await self.list_jobs(after)
        return found[0] if found and found[0].seq == seq else None

    async def list_jobs(self, query: JobQuery) -> list[Job]:
        """The jobs `query` matches. With an id prefix, the first ID_PREFIX_WINDOW ids that
        begin with it are looked at; a short page while more such ids exist beyond them
        would look complete when it may not be, so it is refused (give more of the id)."""
        fields.metadata(query.metadata or {}, "meta")
        if query.id_prefix is not None:
            query = replace(query, id_prefix=id_prefix(query.id_prefix))
        jobs = await self.store.list_jobs(query)
        if query.id_prefix is not None and len(jobs) < query.limit:
            await self._check_window(query.id_prefix)
        return jobs

    async def _check_window(self, prefix: str) -> None:
        window = JobQuery(id_prefix=prefix)
        if await self.store.count_jobs(window, ID_PREFIX_WINDOW) >= ID_PREFIX_WINDOW:
            raise InvalidInput(
                f"too many job ids begin with {prefix!r} to search them: give more of the id",
                field="id_prefix",
                id_prefix=prefix,
            )

    async def count_jobs(self, query: JobQuery, cap: int) -> int:
        """How many jobs match `query`'s filters, counting at most `cap`."""
        if query.id_prefix is not None:
            query = replace(query, id_prefix=id_prefix(query.id_prefix))
        return await self.store.count_jobs(query, cap)

    async def listing(
        self, query: JobQuery, first: int, number: int, scan: Scan | None = None
    ) -> Page:
        """The `number` jobs from `first` (0-based) of those `query` matches, each in its
        situation, and how many match (up to SCAN_LIMIT). Without a scan the store filters,
        orders and pages (the cost follows the page); with one, the newest SCAN_LIMIT jobs
        the query matches are looked at and `scan` filters and orders them (jobq.engine.listing)."""
        if scan is not None:
            candidates = await self.list_jobs(replace(query, descending=True, limit=SCAN_LIMIT))
            return refine(await self.situations(candidates), scan, first, number)
        end = min(first + number, SCAN_LIMIT)
        jobs = (await self.list_jobs(replace(query, limit=end)))[first:] if end > first else []
        return Page(await self.count_jobs(query, SCAN_LIMIT), await self.situations(jobs))

    async def situations(self, jobs: list[Job]) -> list[Situation]:
        """`jobs` in their situation: the problems holding the waiting ones, found from these
        jobs alone (ProblemFinder.holding), and the paused flag of their queues."""
        settings = await self.store.queue_settings(sorted({job.queue for job in jobs}))
        paused = paused_among(settings)
        waiting = [job for job in jobs if job.state in WAITING]
        holding = (
            await self.problem_finder.holding(waiting, self.clock(), settings) if waiting else {}
        )
        return [Situation(j, tuple(holding.get(j.id, ())), j.queue in paused) for j in jobs]

    async def wait(self, job_id: str, timeout: float) -> Job:
        """The job once it has finished, or as it is when `timeout` passes."""
        timeout = min(max(timeout, 0.0), self.defaults.max_result_wait)
        give_up = self.clock() + timeout
        with self.notifier.listen([job_channel(job_id)]) as listener:
            while True:
                job = await self.get(job_id)
                left = give_up - self.clock()
                if job.state in TERMINAL or left <= 0:
                    return job
                await listener.wait(left)

    async def attempts(self, job_id: str) -> list[Attempt]:
        return await self.store.attempts(job_id)

    # --- logs, and the news streams wait on ---

    async def logs(
        self,
        job_id: str,
        after: int = 0,
        tail: int | None = None,
        limit: int = 10_000,
        max_chars: int | None = None,
    ) -> list[LogEntry]:
        if after > fields.SEQ_MAX:
            raise InvalidInput(f"after must be at most {fields.SEQ_MAX}", field="after")
        await self.get(job_id)
        return await self.store.logs(job_id, after, tail, limit, max_chars)

    async def log_pages(self, job_id: str, after: int = 0) -> AsyncIterator[list[LogEntry]]:
        """The job's log after seq `after`, page by page (each at most about
        loglimit.PAGE_CHARS of text): what every download streams, in flat memory. It ends
        early if the job is deleted meanwhile (its log then reads as empty)."""
        while page := await self.store.logs(
            job_id, after, None, loglimit.PAGE_ENTRIES, loglimit.PAGE_CHARS
        ):
            after = page[-1].seq
            yield page

    def follow_job(self, job_id: str) -> AbstractContextManager[News]:
        """News of one job while the block runs: woken when its log grows, when it finishes
        and when it is asked to stop (what a log stream waits on between reads)."""
        return self.notifier.listen([logs_channel(job_id), job_channel(job_id)])

    def follow_events(self) -> AbstractContextManager[News]:
        """Every transition while the block runs: `drain()` gives each as a dict (id, seq,
        queue, type, event, from, to, cancel_requested, at; `event` is the state table's
        name of the transition, `enqueue` for a new job)."""
        return self.notifier.listen([EVENTS])

    # --- queues, workers, statistics, health ---

    async def queues(self) -> list[QueueStats]:
        return await self.store.queue_stats()

    async def queue_snapshot(self) -> QueueSnapshot:
        """Every queue's counts, shared by all pollers (at most a few seconds old: see
        jobq.engine.stats), with the paused flags read fresh."""
        queues, as_of = await self.queue_stats.get(self.store)
        settings = await self.store.queue_settings()
        limits = {name: s.limits for name, s in settings.items() if s.limits.any}
        return QueueSnapshot(as_of, queues, paused_among(settings), limits)

    async def queue_settings(self, queues: Sequence[str] | None = None) -> dict[str, QueueSettings]:
        """The paused or limited queues (of `queues`; None: all), with their settings."""
        return await self.store.queue_settings(queues)

    async def throughput(
        self, since: float, bucket: float, queues: list[str] | None, top: int
    ) -> list[FinishedCount]:
        """Jobs finished per bucket since `since`, of `queues` (None: all), with their waits:
        the `top` queues by name, the rest as queue None. Shared by the pollers asking the
        same (jobq.engine.stats.ThroughputCache)."""
        return await self.throughput_cache.get(self.store, since, bucket, queues, top)

    async def workers(self, queues: list[str] | None = None) -> list[WorkerSeen]:
        """The workers seen, each with the running jobs it holds of `queues` (None: of
        every queue)."""
        return await self.store.workers(True, queues)

    def is_live(self, worker: WorkerSeen) -> bool:
        """Whether `worker` is live now (jobq.engine.stats.is_live)."""
        return is_live(worker, self.clock())

    async def health(self) -> None:
        """Return once the store answers; raise StoreUnavailable when it does not."""
        await self.store.ping()

    # --- problems (why jobs cannot go on; see jobq.engine.problems) ---

    async def problems(self, queues: Sequence[str] | None = None) -> list[Problem]:
        """The problems of `queues`, the caller's (None: every queue, for administrators);
        the store reads only those queues (see jobq.engine.problems)."""
        return await self.problem_finder.find(self.clock(), queues)

    async def problems_of(self, job: Job, found: list[Problem] | None = None) -> list[Problem]:
        """The problems that hold `job` (from `found` when the caller already has them)."""
        now = self.clock()
        found = await self.problems([job.queue]) if found is None else found
        return [p for p in found if holds(p, job, self.problem_finder, now)]
