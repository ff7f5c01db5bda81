"""Prometheus metrics: `GET /metrics` in the text exposition format.

What is measured, and where:
    jobq_jobs                       gauge, jobs per queue and state, read from the store at
                                    scrape time (cached for `STATS_TTL` seconds, one read at a
                                    time, so scrapes never hammer the store)
    jobq_queue_paused               gauge, 1 for a paused queue
    jobq_queue_oldest_waiting_seconds  gauge by queue: age of the first-come queued job (0
                                    when none waits; `(other)`: the oldest of those queues)
    jobq_queue_workers              gauge by queue: live workers that claim from it (a worker
                                    of every queue counts in each)
    jobq_queue_worker_slots         gauge by queue: the slots (concurrency) of those workers
    jobq_queue_busy_slots           gauge by queue: running jobs of the queue live workers hold
    jobq_queue_limit                gauge by queue and limit ("concurrency", "rate", "per_key",
                                    "aging_seconds"): a limited queue's flow limits as set (the
                                    rate: jobs per period)
    jobq_queue_limit_period_seconds gauge by queue: the period of a rate limit
    jobq_queue_limited_jobs         gauge by queue and limit ("concurrency"): queued jobs held
                                    back because the queue's running jobs use up its
                                    concurrency (0 when there is room, or while it is paused)
    jobq_jobs_enqueued_total        counter by queue (new jobs, retries and respawns included)
    jobq_jobs_finished_total        counter by queue and final state
    jobq_jobs_snoozed_total         counter by queue: jobs a worker snoozed (handed back to run
                                    later, the attempt not counted)
    jobq_job_wait_seconds           histogram by queue: due (run_at) to claimed
    jobq_job_run_seconds            histogram by queue: claimed to finished
    jobq_claim_waiters              gauge, long-poll claims waiting in this process
    jobq_http_requests_total        counter by route template, method and status
    jobq_http_request_seconds       histogram by route template and method
    jobq_store_errors_total         counter of StoreUnavailable answered to requests

Per-queue series are bounded: the first `queue_limit` queues a process sees (`jobq serve
--metrics-queues`, 200 by default) are labelled by name, every later one as `(other)`, summed.
A queue is ~45 series (two histograms of 18 buckets), and a deployment that makes a queue per
content item (the Connect dialect does) would otherwise grow them without bound. A limit as
set means one queue's setting, so `(other)` has none; its limited jobs are summed. A rate's use
(its starts within the period) is counted only inside the limited claim's transaction, so no
series says how many jobs a rate holds back.

Each app has its own registry (no module globals), so tests can build many apps. The job
counters come from `Engine.on_moves`, called with every batch of transitions. Counters and
histograms on the hot path are jobq.observe.tally's plain dicts (no lock: only the event-loop thread
updates them), turned into metric families at scrape time.
Counters are per server process: with several nodes on one PostgreSQL, sum them in PromQL.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobq.api.http.security import BEARER, identify
from jobq.engine import Engine
from jobq.errors import Forbidden, JobqError, StoreUnavailable
from jobq.model import Moved, QueueSettings, QueueStats, WorkerSeen
from jobq.observe.tally import CounterTally, HistogramTally
from jobq.states import TERMINAL, Event, State

STATS_TTL = 2.0  # seconds a scrape may reuse the last read of the per-queue counts
TIME_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    300,
    900,
    3600,
)
HTTP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60)
UNMATCHED = "(unmatched)"  # the route label of requests no route matched (bounded cardinality)
OTHER = "(other)"  # the queue label of the queues past the limit
STATE_NAMES = tuple(state.value for state in State)
SNOOZES = frozenset({Event.snooze, Event.snooze_now})


class QueueLabels:
    """The queue label of each queue: its name for the first `limit` seen, then OTHER."""

    def __init__(self, limit: int) -> None:
        if limit < 0:
            raise ValueError(f"the metrics' queue limit must be 0 or more, got {limit}")
        self.limit = limit
        self.named: set[str] = set()

    def __call__(self, queue: str) -> str:
        if queue in self.named:
            return queue
        if len(self.named) < self.limit:
            self.named.add(queue)
            return queue
        return OTHER


class QueueCounts(Collector):
    """Per queue and state counts from the last read of `store.queue_stats()`, and each
    queue's oldest waiting job and workers (WorkerGauges)."""

    def __init__(self, label: QueueLabels) -> None:
        self.label = label
        self.stats: list[QueueStats] = []
        self.workers = WorkerGauges(label)
        self.limits = LimitGauges(label)
        self.read_at = float("-inf")
        self.taken_at = 0.0  # wall clock of the last read, for the ages
        self.ttl = STATS_TTL
        self._lock = asyncio.Lock()

    async def refresh(self, engine: Engine) -> None:
        """Read the store unless the last read is younger than `self.ttl`; concurrent scrapes
        share one read."""
        if time.monotonic() - self.read_at < self.ttl:
            return
        async with self._lock:
            if time.monotonic() - self.read_at < self.ttl:
                return
            self.stats = await engine.queues()
            self.limits.read(await engine.queue_settings(), self.stats)
            self.workers.read([w for w in await engine.workers() if engine.is_live(w)])
            self.taken_at = engine.clock()
            self.read_at = time.monotonic()

    def collect(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily(
            "jobq_jobs", "Jobs per queue and state.", labels=["queue", "state"]
        )
        paused = GaugeMetricFamily(
            "jobq_queue_paused", "1 if the queue is paused.", labels=["queue"]
        )
        # once per queue of the store's thousands, on the event loop: only the states a queue
        # holds jobs in are added (one Enum lookup per state and queue held the loop for
        # about 200 ms at 20,000 queues)
        counts: dict[str, dict[str, float]] = {}
        for q in self.stats:
            label = self.label(q.name)
            into = counts.get(label)
            if into is None:
                into = counts[label] = dict.fromkeys(STATE_NAMES, 0.0)
            for state, held in q.counts.items():
                if held:
                    into[state] = into.get(state, 0) + held
            if label != OTHER:
                paused.add_metric([label], 1.0 if q.paused else 0.0)
        for label, by_state in counts.items():
            for name, count in by_state.items():
                jobs.add_metric([label, name], count)
        yield jobs
        yield paused
        yield self._oldest(counts)
        yield from self.workers.collect(counts)
        yield from self.limits.collect()

    def _oldest(self, labels: dict[str, Any]) -> Metric:
        oldest = GaugeMetricFamily(
            "jobq_queue_oldest_waiting_seconds",
            "Age of the queue's first-come queued job (0 when none waits).",
            labels=["queue"],
        )
        ages = dict.fromkeys(labels, 0.0)
        for q in self.stats:
            if q.oldest_queued_at is not None:
                label = self.label(q.name)
                ages[label] = max(ages[label], self.taken_at - q.oldest_queued_at)
        for label, age in ages.items():
            oldest.add_metric([label], age)
        return oldest


class WorkerGauges:
    """Per queue label: the live workers that claim from it, their slots, and the running
    jobs of the queue they hold. A worker of every queue counts in every label; a worker
    counts once in `(other)` however many of those queues it asks for."""

    def __init__(self, label: QueueLabels) -> None:
        self.label = label
        self.named: dict[str, list[WorkerSeen]] = {}  # label -> the workers asking for it
        self.every: list[WorkerSeen] = []  # workers of every queue
        self.busy: dict[str, int] = {}  # label -> running jobs held

    def read(self, live: list[WorkerSeen]) -> None:
        self.named, self.every, self.busy = {}, [], {}
        for w in live:
            if w.queues is None:
                self.every.append(w)
            else:
                for label in {self.label(q) for q in w.queues}:
                    self.named.setdefault(label, []).append(w)
            for job in w.held:
                label = self.label(job.queue)
                self.busy[label] = self.busy.get(label, 0) + 1

    def collect(self, labels: dict[str, Any]) -> Iterator[Metric]:
        workers = GaugeMetricFamily(
            "jobq_queue_workers", "Live workers that claim from the queue.", labels=["queue"]
        )
        slots = GaugeMetricFamily(
            "jobq_queue_worker_slots",
            "Slots (concurrency) of the live workers that claim from the queue.",
            labels=["queue"],
        )
        busy = GaugeMetricFamily(
            "jobq_queue_busy_slots",
            "Running jobs of the queue that live workers hold.",
            labels=["queue"],
        )
        for label in {*labels, *self.named, *self.busy}:
            serving = self.named.get(label, []) + self.every
            workers.add_metric([label], len(serving))
            slots.add_metric([label], sum(w.slots or 0 for w in serving))
            busy.add_metric([label], self.busy.get(label, 0))
        yield workers
        yield slots
        yield busy


class LimitGauges:
    """Per limited queue: its limits as set (named queues only: a setting is one queue's) and
    the queued jobs its concurrency holds back now (summed under `(other)`)."""

    def __init__(self, label: QueueLabels) -> None:
        self.label = label
        self.settings: dict[str, QueueSettings] = {}  # the limited queues'
        self.held: dict[str, float] = {}  # label -> queued jobs held back by a concurrency

    def read(self, settings: dict[str, QueueSettings], stats: list[QueueStats]) -> None:
        self.settings = {name: s for name, s in settings.items() if s.limits.any}
        self.held = {
            self.label(name): 0.0
            for name, s in self.settings.items()
            if s.limits.concurrency is not None
        }
        for q in stats:
            s = self.settings.get(q.name)
            if s is None or s.limits.concurrency is None:
                continue
            label = self.label(q.name)
            full = not s.paused and q.counts.get("running", 0) >= s.limits.concurrency
            held = q.counts.get("queued", 0) if full else 0
            self.held[label] += held

    def collect(self) -> Iterator[Metric]:
        limit = GaugeMetricFamily(
            "jobq_queue_limit",
            "A queue's flow limit as set: concurrency, or jobs per rate period.",
            labels=["queue", "limit"],
        )
        period = GaugeMetricFamily(
            "jobq_queue_limit_period_seconds",
            "The period of a queue's rate limit.",
            labels=["queue"],
        )
        held = GaugeMetricFamily(
            "jobq_queue_limited_jobs",
            "Queued jobs held back because the queue's limit is used up.",
            labels=["queue", "limit"],
        )
        for name, s in sorted(self.settings.items()):
            label = self.label(name)
            if label == OTHER:
                continue
            if s.limits.concurrency is not None:
                limit.add_metric([label, "concurrency"], s.limits.concurrency)
            if s.limits.rate is not None and s.limits.rate_period is not None:
                limit.add_metric([label, "rate"], s.limits.rate)
                period.add_metric([label], s.limits.rate_period)
            if s.limits.per_key is not None:
                limit.add_metric([label, "per_key"], s.limits.per_key)
            if s.limits.aging is not None:
                limit.add_metric([label, "aging_seconds"], s.limits.aging)
        for label, count in self.held.items():
            held.add_metric([label, "concurrency"], count)
        yield limit
        yield period
        yield held


class Tallies(Collector):
    """The counters and histograms fed from the hot path (see jobq.observe.tally)."""

    def __init__(self) -> None:
        self.enqueued = CounterTally("jobq_jobs_enqueued", "Jobs enqueued.", ["queue"])
        self.finished = CounterTally(
            "jobq_jobs_finished", "Jobs that reached a final state.", ["queue", "state"]
        )
        self.snoozed = CounterTally(
            "jobq_jobs_snoozed", "Jobs a worker snoozed (the attempt not counted).", ["queue"]
        )
        self.waited = HistogramTally(
            "jobq_job_wait_seconds", "Time from due to claimed.", ["queue"], TIME_BUCKETS
        )
        self.ran = HistogramTally(
            "jobq_job_run_seconds", "Time from claimed to finished.", ["queue"], TIME_BUCKETS
        )
        self.requests = CounterTally(
            "jobq_http_requests", "HTTP requests.", ["route", "method", "status"]
        )
        self.latency = HistogramTally(
            "jobq_http_request_seconds",
            "HTTP request latency.",
            ["route", "method"],
            HTTP_BUCKETS,
        )
        self.store_errors = CounterTally(
            "jobq_store_errors", "StoreUnavailable errors answered to requests.", []
        )

    def collect(self) -> Iterator[Metric]:
        for tally in (
            self.enqueued,
            self.finished,
            self.snoozed,
            self.waited,
            self.ran,
            self.requests,
            self.latency,
            self.store_errors,
        ):
            yield from tally.collect()


class Metrics:
    """Every metric of one app, and the hooks that feed them."""

    def __init__(self, queue_limit: int) -> None:
        self.queue_label = QueueLabels(queue_limit)
        self.registry = CollectorRegistry(auto_describe=True)
        self.queue_counts = QueueCounts(self.queue_label)
        self.registry.register(self.queue_counts)
        self.tallies = Tallies()
        self.registry.register(self.tallies)
        self.claim_waiters = Gauge(
            "jobq_claim_waiters",
            "Long-poll claims waiting in this process.",
            registry=self.registry,
        )

    def on_moves(self, moves: Sequence[Moved], now: float) -> None:
        """Count what a batch of transitions did (Engine.on_moves)."""
        t, label = self.tallies, self.queue_label
        for move in moves:
            job, previous = move.job, move.previous
            if previous is None:
                t.enqueued.inc((label(job.queue),))
            elif move.event in SNOOZES:
                t.snoozed.inc((label(job.queue),))
            elif job.state is State.running and previous is State.queued:
                if job.started_at is not None:
                    waited = max(job.started_at - job.run_at, 0.0)
                    t.waited.observe((label(job.queue),), waited)
            elif job.state in TERMINAL and previous not in TERMINAL:
                t.finished.inc((label(job.queue), job.state.value))
                if previous is State.running and job.started_at is not None:
                    ran = max((job.finished_at or now) - job.started_at, 0.0)
                    t.ran.observe((label(job.queue),), ran)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.tallies.requests.inc((route, method, str(status)))
        self.tallies.latency.observe((route, method), seconds)


class RequestMetrics:
    """ASGI middleware: count and time each HTTP request by route template (not raw path,
    which would make one series per job id)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers if the app raises before starting a response

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            template = route_template(scope)
            elapsed = time.perf_counter() - started
            self.metrics.observe_request(template, scope["method"], status, elapsed)


def route_template(scope: Scope) -> str:
    """The matched route's path with its mount prefix, e.g. /api/v1/jobs/{job_id}.

    A route included under a prefix may know only its own part ("/jobs/{job_id}"), so the
    prefix is what precedes that part, filled in, at the end of the request path."""
    route = scope.get("route")
    own = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(own, str):
        return UNMATCHED
    filled = own
    for name, param in (scope.get("path_params") or {}).items():
        filled = filled.replace("{" + name + "}", str(param))
    path: str = scope.get("path", "")
    if filled and path.endswith(filled):
        return path[: len(path) - len(filled)] + own
    return own


def install(app: FastAPI, metrics: Metrics) -> None:
    """Mount GET /metrics, the request middleware and the store-error count on `app`."""
    app.state.metrics = metrics
    app.add_middleware(RequestMetrics, metrics=metrics)
    app.add_api_route(
        "/metrics",
        scrape,
        methods=["GET"],
        tags=["metrics"],
        response_class=Response,
        include_in_schema=True,
    )
    on_jobq_error = app.exception_handlers.get(JobqError)
    if on_jobq_error is not None:

        async def on_store_error(request: Request, exc: Exception) -> Response:
            metrics.tallies.store_errors.inc(())
            response = on_jobq_error(request, exc)
            return await response if inspect.isawaitable(response) else response

        app.add_exception_handler(StoreUnavailable, on_store_error)


def attach(engine: Engine, metrics: Metrics) -> None:
    """Feed `metrics` from `engine` (done in the app's lifespan, once the engine exists)."""
    engine.on_moves = metrics.on_moves
    notifier = engine.notifier
    metrics.claim_waiters.set_function(lambda: float(notifier.waiting("queue:")))


async def scrape(request: Request) -> Response:
    """Prometheus metrics in the text format. With auth on, administrators only (see
    docs/auth.md)."""
    principal = await identify(request, BEARER)
    if not principal.admin:
        raise Forbidden("metrics are for administrators")
    metrics: Metrics = request.app.state.metrics
    await metrics.queue_counts.refresh(request.app.state.engine)
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
