"""Problems: why jobs cannot go on, computed from the store each time they are asked for.

    queue_paused   a paused queue holds its queued jobs
    queue_limited  a queue at its concurrency limit holds its queued jobs (its running jobs
                   are as many as the limit allows)
    no_worker      jobs of a queue and type have waited `idle_after` seconds and no worker has
                   taken one of them (or any job of that queue and type) in that time
    failing        live jobs whose attempts fail again and again (`failures` or more)
    deadline       live jobs whose deadline passes within `deadline_warning` seconds

A problem's id is derived from its kind, queue and type, so a client polling the list sees the
same problem, with the same id, until its cause goes away; then it is simply no longer listed.
Nothing is stored: there is nothing to clean up, and every store computes the same answer.

`find(now, queues)` looks only at the caller's queues: every store read takes the queue list
(paused queues, type activity, failing jobs, deadlines, queued ids are per queue), so what
one caller's look costs follows its own queues, never what other tenants hold. A limited
queue's running jobs are counted up to its concurrency (and `max_jobs` beyond), through the
index that leads with the queue and state.

Only the concurrency is judged: how many jobs a rate-limited queue started within its period
is counted by the limited claim alone (jobq.store.limits), inside its transaction, and no
store read exposes it. A queue held back by its rate shows no `queue_limited` problem; when
its period is longer than `idle_after`, its waiting jobs may show as `no_worker` between
starts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from jobq.engine.limits import paused_among
from jobq.model import DEFAULTS, Job, JobQuery, QueueSettings, TypeActivity, WorkerSeen
from jobq.states import State
from jobq.store.base import Store

KINDS = ("queue_paused", "queue_limited", "no_worker", "failing", "deadline")
EVERY = 2**62  # a count with no cap
Message = Callable[[str, str, list[Job]], str]  # (queue, type, jobs) -> what is wrong
Settings = Mapping[str, QueueSettings]  # the paused or limited queues' settings, by name
# a queue at its concurrency -> (running, concurrency, whether running was counted up to a cap)
Full = dict[str, tuple[int, int, bool]]


@dataclass(slots=True)
class ProblemSettings:
    idle_after: float = DEFAULTS.idle_after  # seconds without a worker taking waiting jobs
    failures: int = 2  # failed attempts of one live job that make a problem
    deadline_warning: float = 60.0  # at most this long before a deadline ...
    deadline_fraction: float = 0.25  # ... and at most this part of the job's deadline_seconds
    max_jobs: int = 1000  # job ids listed per problem


@dataclass(slots=True)
class Problem:
    id: str
    kind: str
    queue: str
    type: str | None
    message: str
    jobs: list[str] = field(default_factory=list)
    job_count: int = 0
    data: dict[str, str] = field(default_factory=dict)


def problem_id(kind: str, queue: str, type: str | None = None) -> str:
    """Stable and URL-safe: the kind, then a digest of where it is."""
    digest = hashlib.blake2b(f"{kind}\0{queue}\0{type or ''}".encode(), digest_size=6)
    return f"{kind}-{digest.hexdigest()}"


class ProblemFinder:
    """Looks for every kind of problem; `find` returns them in a stable order."""

    def __init__(self, store: Store, settings: ProblemSettings | None = None) -> None:
        self.store = store
        self.settings = settings or ProblemSettings()

    async def find(self, now: float, queues: Sequence[str] | None = None) -> list[Problem]:
        """The problems of `queues` (None: of every queue, for administrators)."""
        if queues is not None and not queues:
            return []
        settings = await self.store.queue_settings(queues)
        held = [*await self._paused(settings), *await self._limited(settings)]
        found = [
            *held,
            *await self._no_worker(now, {p.queue for p in held}, queues),
            *await self._failing(queues),
            *await self._deadlines(now, queues),
        ]
        return sorted(found, key=lambda p: (KINDS.index(p.kind), p.queue, p.type or ""))

    async def _paused(self, settings: Settings) -> list[Problem]:
        out = []
        for name in sorted(paused_among(settings)):
            jobs, count = await self._waiting(name)
            if not jobs:
                continue
            out.append(
                Problem(
                    problem_id("queue_paused", name),
                    "queue_paused",
                    name,
                    None,
                    f"queue {name} is paused",
                    jobs,
                    count,
                    {"queue": name},
                )
            )
        return out

    async def _limited(self, settings: Settings) -> list[Problem]:
        """The queues at their concurrency limit that have jobs waiting (not paused ones:
        their pause holds them first)."""
        out = []
        for name, use in sorted((await self.full(settings)).items()):
            jobs, count = await self._waiting(name)
            if jobs:
                out.append(_limited_problem(name, use, jobs, count))
        return out

    async def full(self, settings: Settings) -> Full:
        """The queues of `settings` (not paused) whose running jobs use up their concurrency:
        one count per limited queue, of at most its concurrency and `max_jobs` more jobs."""
        out: Full = {}
        for name, s in settings.items():
            concurrency = s.limits.concurrency
            if s.paused or concurrency is None:
                continue
            query = JobQuery(queues=[name], states=[State.running])
            cap = concurrency + self.settings.max_jobs
            running = await self.store.count_jobs(query, cap)
            if running >= concurrency:
                out[name] = (running, concurrency, running >= cap)
        return out

    async def _no_worker(
        self, now: float, held: set[str], queues: Sequence[str] | None
    ) -> list[Problem]:
        idle = self.settings.idle_after
        found = await self.store.type_activity(now - idle, queues)
        idling = [a for a in found if a.queue not in held and _idle(a, now, idle)]
        if not idling:  # the workers word the message only: read them when there is one
            return []
        workers = [w for w in await self.store.workers(held=False) if w.last_seen >= now - idle]
        out = []
        for a in idling:
            jobs = await self._queued(a.queue, a.type)
            data = {"queue": a.queue, "type": a.type, "idle_seconds": f"{idle:g}"}
            out.append(
                Problem(
                    problem_id("no_worker", a.queue, a.type),
                    "no_worker",
                    a.queue,
                    a.type,
                    _no_worker_message(a, workers, idle),
                    jobs,
                    a.queued,
                    data,
                )
            )
        return out

    async def _failing(self, queues: Sequence[str] | None) -> list[Problem]:
        limit = self.settings.max_jobs * 10
        jobs = await self.store.failing_jobs(self.settings.failures, limit, queues)
        return _grouped(
            "failing",
            [j for j in jobs if self.is_failing(j)],
            _failing_message,
            self.settings.max_jobs,
        )

    async def _deadlines(self, now: float, queues: Sequence[str] | None) -> list[Problem]:
        soon = now + self.settings.deadline_warning
        jobs = await self.store.deadlines_before(soon, self.settings.max_jobs * 10, queues)
        near = [j for j in jobs if self.deadline_near(j, now)]
        return _grouped(
            "deadline",
            near,
            lambda q, t, js: _deadline_message(q, t, js, now),
            self.settings.max_jobs,
        )

    async def holding(
        self, jobs: list[Job], now: float, settings: Settings
    ) -> dict[str, list[Problem]]:
        """The problems that hold each of `jobs` (by job id; jobs held by none are left out),
        found from those jobs alone and `settings`, their queues' (the cost follows len(jobs)
        and their limited queues, never the store's size). The problems are the ones `find`
        lists (same ids); their job lists name only these."""
        idle = self.settings.idle_after
        paused = paused_among(settings)
        queued = {j.queue for j in jobs if j.state == State.queued and j.queue not in paused}
        full = await self.full({q: s for q, s in settings.items() if q in queued})
        activity: dict[tuple[str, str], TypeActivity] = {}
        if among := sorted(queued - full.keys()):
            found = await self.store.type_activity(now - idle, among)
            activity = {(a.queue, a.type): a for a in found if _idle(a, now, idle)}
        out: dict[str, list[Problem]] = {}
        for job in jobs:
            held = self._holding_one(job, now, (paused, full), activity)
            if held:
                out[job.id] = held
        return out

    def _holding_one(
        self,
        job: Job,
        now: float,
        closed: tuple[set[str], Full],
        idle: dict[tuple[str, str], TypeActivity],
    ) -> list[Problem]:
        q, t, jobs = job.queue, job.type, [job.id]
        paused, full = closed
        out = []
        if job.state == State.queued and q in paused:
            message = f"queue {q} is paused"
            out.append(
                Problem(
                    problem_id("queue_paused", q),
                    "queue_paused",
                    q,
                    None,
                    message,
                    jobs,
                    1,
                    {"queue": q},
                )
            )
        elif job.state == State.queued and q in full:
            out.append(_limited_problem(q, full[q], jobs, None))
        elif job.state == State.queued and (q, t) in idle:
            a = idle[q, t]
            data = {"queue": q, "type": t, "idle_seconds": f"{self.settings.idle_after:g}"}
            # (which workers asked for the queue is `find`'s to tell: reading the workers costs
            # a look at every running job, whoever's)
            message = (
                f"no worker has taken a job of type {t} in queue {q} for {data['idle_seconds']} s"
            )
            out.append(
                Problem(
                    problem_id("no_worker", q, t), "no_worker", q, t, message, jobs, a.queued, data
                )
            )
        if self.is_failing(job):
            out.append(_grouped("failing", [job], _failing_message, 1)[0])
        if self.deadline_near(job, now):
            near = _grouped("deadline", [job], lambda q, t, js: _deadline_message(q, t, js, now), 1)
            out.append(near[0])
        return out

    async def _queued(self, queue: str, type: str | None) -> list[str]:
        return await self.store.queued_ids(queue, type, self.settings.max_jobs)

    async def _waiting(self, queue: str) -> tuple[list[str], int]:
        """The first `max_jobs` queued jobs of `queue`, and how many there are (counted only
        when there are more than those)."""
        jobs = await self._queued(queue, None)
        count = len(jobs)
        if count >= self.settings.max_jobs:
            query = JobQuery(queues=[queue], states=[State.queued])
            count = await self.store.count_jobs(query, EVERY)
        return jobs, count

    # predicates on one job, also used to tell which problems hold a given job

    def is_failing(self, job: Job) -> bool:
        if job.state not in (State.scheduled, State.queued, State.running) or not job.error:
            return False
        failed = job.attempt - 1 if job.state == State.running else job.attempt
        return failed >= self.settings.failures

    def deadline_near(self, job: Job, now: float) -> bool:
        if job.deadline_at is None or job.state not in (
            State.scheduled,
            State.queued,
            State.running,
        ):
            return False
        window = self.settings.deadline_warning
        if job.deadline_seconds is not None:
            window = min(window, job.deadline_seconds * self.settings.deadline_fraction)
        return job.deadline_at - now <= window


def outline(problem: Problem) -> Problem:
    """What a caller who may not read the problem's jobs is shown (a worker: it sees its
    queues' counts, not their jobs): the kind, where, how many; no job ids, no error text."""
    message = problem.message
    if problem.kind == "failing":
        message = (
            f"{problem.job_count} job(s) of type {problem.type} in queue {problem.queue} "
            "keep failing"
        )
    return replace(problem, message=message, jobs=[])


def holds(problem: Problem, job: Job, finder: ProblemFinder, now: float) -> bool:
    """Whether `problem` holds `job` (not only among the first max_jobs ids it lists)."""
    if job.id in problem.jobs:
        return True
    if job.queue != problem.queue or (problem.type is not None and job.type != problem.type):
        return False
    if problem.kind in ("queue_paused", "queue_limited", "no_worker"):
        return job.state == State.queued
    if problem.kind == "failing":
        return finder.is_failing(job)
    return finder.deadline_near(job, now)


def _idle(a: TypeActivity, now: float, idle: float) -> bool:
    if a.running > 0 or a.oldest_waiting_since is None:
        return False
    waited_long = now - a.oldest_waiting_since >= idle
    untouched = a.last_taken_at is None or now - a.last_taken_at >= idle
    return waited_long and untouched


def _no_worker_message(a: TypeActivity, workers: list[WorkerSeen], idle: float) -> str:
    if any(w.queues is None or a.queue in w.queues for w in workers):
        return (
            f"workers ask for queue {a.queue} but none has taken a job of type {a.type} "
            f"for {idle:g} s"
        )
    return f"no worker has asked for queue {a.queue} for {idle:g} s"


def _limited_problem(
    queue: str, use: tuple[int, int, bool], jobs: list[str], waiting: int | None
) -> Problem:
    """A queue at its concurrency limit holding `jobs` (None waiting: only these are known)."""
    running, concurrency, capped = use
    at_least = "at least " if capped else ""
    message = (
        f"queue {queue} is at its concurrency limit: {at_least}{running} of {concurrency} running"
    )
    if waiting is not None:
        message += f"; {waiting} job{'' if waiting == 1 else 's'} waiting"
    data = {
        "queue": queue,
        "limit": "concurrency",
        "concurrency": str(concurrency),
        "running": str(running),
    }
    count = len(jobs) if waiting is None else waiting
    kind = "queue_limited"
    return Problem(problem_id(kind, queue), kind, queue, None, message, jobs, count, data)


def _failing_message(queue: str, type: str, jobs: list[Job]) -> str:
    last = next((j.error for j in reversed(jobs) if j.error), None) or {}
    reason = last.get("message") or last.get("code") or "an error"
    return f"{len(jobs)} job(s) of type {type} in queue {queue} keep failing: {reason}"


def _deadline_message(queue: str, type: str, jobs: list[Job], now: float) -> str:
    first = min(j.deadline_at or now for j in jobs)
    return (
        f"{len(jobs)} job(s) of type {type} in queue {queue} reach their deadline within "
        f"{max(first - now, 0.0):.0f} s"
    )


def _grouped(kind: str, jobs: Iterable[Job], message: Message, most: int) -> list[Problem]:
    groups: dict[tuple[str, str], list[Job]] = {}
    for job in jobs:
        groups.setdefault((job.queue, job.type), []).append(job)
    return [
        Problem(
            problem_id(kind, queue, type),
            kind,
            queue,
            type,
            message(queue, type, members),
            [j.id for j in members[:most]],
            len(members),
            {"queue": queue, "type": type},
        )
        for (queue, type), members in groups.items()
    ]
