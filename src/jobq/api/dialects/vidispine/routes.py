"""The Vidispine JobApi (seed 004), mounted at /API by default.

A Vidispine job type is a jobq queue (a job made here gets that name as queue and type, so
workers find it either way); `data` / `jobmetadata` is the job's metadata; `user` its owner.
States, priorities and documents are translated in `map`, content types and errors in
`wire`. Every decision about a job is the engine's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from jobq.api.dialects.docs import add_docs
from jobq.api.dialects.vidispine.map import (
    SORT_KEY,
    STORE_STATES,
    VIDISPINE_STATE,
    View,
    id_document,
    job_document,
    parse_sort,
    priority_name,
    priority_value,
    problem_document,
    state_name,
    status,
    wire_id,
)
from jobq.api.dialects.vidispine.wire import (
    JSON,
    TEXT,
    XML,
    csv,
    flag,
    key_values,
    metadata_body,
    negotiate,
    number,
    respond,
    text,
    timestamp,
)
from jobq.api.http.context import engine_of
from jobq.api.http.security import guard_of
from jobq.auth.policy import Action
from jobq.engine import Engine, JobSpec
from jobq.engine.listing import Page, Scan, Situation
from jobq.engine.problems import Problem
from jobq.errors import Conflict, InvalidInput, StaleLease
from jobq.model import Job, JobQuery
from jobq.render import iso
from jobq.states import TERMINAL, State

NAME = "vidispine"
PREFIX = "/API"
# Every answer may come as XML, JSON or text (content negotiation), errors included.
_ANY_TYPE: dict[str, Any] = {
    "content": {"application/xml": {}, "application/json": {}, "text/plain": {}}
}
DOCUMENTED: dict[int | str, dict[str, Any]] = {
    200: {"description": "Success, in the negotiated content type.", **_ANY_TYPE},
    **{
        code: {"description": "An ErrorDocument.", **_ANY_TYPE}
        for code in (400, 401, 403, 404, 406, 409, 415, 429, 503)
    },
}
router = APIRouter(responses=DOCUMENTED)
WITH_TEXT = (XML, JSON, TEXT)
SEQ_ORDER = ("jobId", "startTime")  # sort keys in the order of seq
TYPE_NAME = re.compile(r"^[A-Za-z0-9_.:@/-]{1,200}$")


def build_router() -> APIRouter:
    """The JobApi routes, for mounting under PREFIX (a new router each time)."""
    mounted = APIRouter(routes=list(router.routes))
    add_docs(mounted, "Vidispine JobApi (jobq)", "5.0", __doc__ or "")
    return mounted


def caller(request: Request) -> str | None:
    """The calling user: set by jobq.auth's HTTP basic dependency when auth is mounted; None
    in open (loopback) mode, where every job is the caller's."""
    principal = getattr(request.state, "principal", None)
    user = getattr(principal, "user", None)
    return user if isinstance(user, str) else None


# --- jobs ---


@router.get("/job/problem")
async def get_all_job_problems(request: Request) -> Response:
    """Unresolved problems, each with the jobs waiting for it to be resolved."""
    media = negotiate(request)
    engine = engine_of(request)
    readable = (await guard_of(request)).listing(None)
    return await _problems(engine, media, await engine.problems(readable))


@router.get("/job/{job_id}/problem")
async def get_job_problems(request: Request, job_id: str) -> Response:
    """The problems that hold one job."""
    media = negotiate(request)
    engine = engine_of(request)
    job = await find_job(request, job_id, Action.read)
    return await _problems(engine, media, await engine.problems_of(job))


@router.get("/job/{job_id}")
async def get_job(request: Request, job_id: str) -> Response:
    """A job; as text/plain, only its state."""
    media = negotiate(request, WITH_TEXT)
    fields, metadata = csv(request, "field"), flag(request, "metadata", False)
    engine = engine_of(request)
    job = await find_job(request, job_id, Action.read)
    [situation] = await engine.situations([job])
    if media == TEXT:
        return Response(status(situation), media_type=TEXT)
    return respond(media, "JobDocument", job_document(situation, View(metadata, fields)))


@router.get("/job")
async def get_jobs(request: Request) -> Response:
    """Jobs matching the criteria, with `hits` the number matching in all."""
    media = negotiate(request, WITH_TEXT)
    params = ListParams.read(request)
    params.types = (await guard_of(request)).listing(params.types)
    page = Page(0, [])
    if params.types != []:
        page = await engine_of(request).listing(
            params.query(caller(request)), params.first - 1, params.number, params.scan()
        )
    if media == TEXT:
        return text([wire_id(s.job) for s in page.situations])
    render = id_document if params.idonly else job_document
    view = View(params.metadata, params.fields, params.step)
    jobs = [render(s, view) for s in page.situations]
    return respond(media, "JobListDocument", {"hits": page.hits, "job": jobs})


@router.post("/job")
async def create_custom_job(request: Request) -> Response:
    """Start a job of `type`, with metadata from `jobmetadata` and an optional
    SimpleMetadataDocument body (whose keys win)."""
    media = negotiate(request)
    kind = request.query_params.get("type", "")
    if not TYPE_NAME.match(kind):
        raise InvalidInput(
            "type is required: a job type name (letters, digits, _.:@/-)",
            context="type",
            value=kind or None,
        )
    metadata = key_values(request.query_params.getlist("jobmetadata"), "jobmetadata")
    metadata.update(dict(await metadata_body(request)))
    _check_metadata(metadata)
    priority = priority_value(request.query_params.get("priority") or "MEDIUM")
    await (await guard_of(request)).enqueue([kind])
    spec = JobSpec(
        queue=kind, type=kind, metadata=metadata, priority=priority, owner=caller(request)
    )
    engine = engine_of(request)
    [(job, _)] = await engine.enqueue([spec])
    return await _job_document(engine, media, job)


@router.post("/job/{job_id}/re-run")
async def create_duplicate_job(request: Request, job_id: str) -> Response:
    """A duplicate of a job, started (its priority unless `priority` is given). A finished
    job's first duplicate is its retry (linked by retry_of); every re-run duplicates, as
    Vidispine documents, so once the job has a retry the next are unlinked duplicates. An
    unfinished job is left running."""
    media = negotiate(request)
    overrides: dict[str, Any] = {}
    if request.query_params.get("priority"):
        overrides["priority"] = priority_value(request.query_params["priority"])
    if caller(request) is not None:
        overrides["owner"] = caller(request)
    engine = engine_of(request)
    old = await find_job(request, job_id, Action.manage)
    with in_vidispine_terms(old):
        if old.state in TERMINAL:
            job = await _rerun(engine, old, overrides)
        else:
            job = await engine.duplicate(old, **overrides)
    return await _job_document(engine, media, job)


async def _rerun(engine: Engine, old: Job, overrides: dict[str, Any]) -> Job:
    """A finished job's retry, or, once it has one, a duplicate of it."""
    try:
        return await engine.retry(old.id, **overrides)
    except Conflict as exc:
        if exc.details.get("retried_by") is None:
            raise
        return await engine.duplicate(old, **overrides)


@router.put("/job/{job_id}")
async def update_job(request: Request, job_id: str) -> Response:
    """Set the priority of a job that waits or runs (MEDIUM when not given)."""
    priority = priority_value(request.query_params.get("priority") or "MEDIUM")
    engine = engine_of(request)
    job = await find_job(request, job_id, Action.manage)
    with in_vidispine_terms(job):
        await engine.reprioritise(job.id, priority)
    return Response(status_code=200)


@router.delete("/job/{job_id}")
async def abort_job(request: Request, job_id: str) -> Response:
    """Abort: a waiting job is ABORTED at once; a running one is ABORTED_PENDING until its
    worker stops (the worker sees the reason and whether to run its cleanup)."""
    cleanup = flag(request, "cleanup", True)
    reason = request.query_params.get("reason") or None
    engine = engine_of(request)
    job = await find_job(request, job_id, Action.manage)
    with in_vidispine_terms(job):
        await engine.cancel(job.id, reason, {"cleanup": cleanup})
    return Response(status_code=200)


@router.delete("/job")
async def delete_jobs(request: Request) -> Response:
    """Delete finished jobs and everything recorded about them. Nothing is deleted while any
    of them still waits or runs (409); ids that do not exist are already gone."""
    ids = csv(request, "id")
    if not ids:
        raise InvalidInput("id is required: a comma-separated list of job ids", context="id")
    engine, guard = engine_of(request), await guard_of(request)
    found = [job for job in [await engine.lookup(i) for i in ids] if job is not None]
    jobs = [job for job in found if guard.sees_queue(job.queue)]  # others: not there for you
    guard.queues({job.queue for job in jobs}, Action.manage)
    try:
        await engine.delete_all(jobs)
    except Conflict as exc:
        live = next(job for job in jobs if job.id == exc.details.get("id"))
        [situation] = await engine.situations([live])  # HOLD or WAITING, as the job shows
        first, state = wire_id(live), status(situation)
        raise Conflict(f"job {first} is {state}: abort it first", id=first, state=state) from None
    return Response(status_code=200)


# --- job types ---


@router.get("/jobtype")
async def get_job_types(request: Request) -> Response:
    """Job type names (jobq queues), as a URIListDocument or one per line."""
    media = negotiate(request, WITH_TEXT)
    guard = await guard_of(request)
    names = [q.name for q in await engine_of(request).queues() if guard.may_read(q.name)]
    if media == TEXT:
        return text(names)
    return respond(media, "URIListDocument", {"hits": len(names), "uri": names})


# --- helpers ---


async def find_job(request: Request, job_id: str, action: Action) -> Job:
    """The job a wire id names (`VX-<seq>`, any `PREFIX-<seq>`, or a jobq id), once the
    caller may do `action` on it: a job the caller may not see is refused as one that does
    not exist, naming the id as asked (jobq.auth.guard.absent)."""
    job = await engine_of(request).lookup(job_id)
    return (await guard_of(request)).check(job, job_id, action)


@contextmanager
def in_vidispine_terms(job: Job) -> Iterator[None]:
    """Conflicts the engine raises about `job`, told with its wire id and Vidispine's name
    of the state it is in (the engine's name the job by jobq id and jobq state)."""
    try:
        yield
    except StaleLease:
        raise
    except Conflict as exc:
        state = VIDISPINE_STATE.get(str(exc.details.get("state")), "in another state")
        raise Conflict(f"job {wire_id(job)} is {state}", id=wire_id(job), state=state) from None


async def _problems(engine: Engine, media: str, problems: list[Problem]) -> Response:
    ids = sorted({i for p in problems for i in p.jobs})
    jobs = await engine.list_jobs(JobQuery(ids=ids, limit=len(ids))) if ids else []
    seqs = {job.id: job.seq for job in jobs}
    doc = {"problem": [problem_document(p, seqs) for p in problems]}
    return respond(media, "JobProblemListDocument", doc)


async def _job_document(engine: Engine, media: str, job: Job) -> Response:
    [situation] = await engine.situations([job])
    return respond(media, "JobDocument", job_document(situation, View()))


def _check_metadata(metadata: dict[str, str]) -> None:
    for key, value in metadata.items():
        if not 1 <= len(key) <= 200 or len(value) > 10_000:
            raise InvalidInput(
                "metadata keys are 1-200 characters, values at most 10000",
                context="jobmetadata",
                value=key[:200],
            )


@dataclass(slots=True)
class ListParams:
    """GET /job's parameters, as spelled on the wire."""

    metadata_filter: dict[str, str]
    fields: list[str] | None
    start_from: float | None
    start_to: float | None
    finish_from: float | None
    finish_to: float | None
    user: bool
    first: int
    number: int
    types: list[str] | None
    states: list[str] | None
    priorities: list[str] | None
    step: bool
    idonly: bool
    metadata: bool
    sort: list[tuple[str, bool]]

    @classmethod
    def read(cls, request: Request) -> ListParams:
        states = csv(request, "state")
        priorities = csv(request, "priority")
        return cls(
            metadata_filter=key_values(request.query_params.getlist("jobmetadata"), "jobmetadata"),
            fields=csv(request, "field"),
            start_from=timestamp(request, "starttime-from"),
            start_to=timestamp(request, "starttime-to"),
            finish_from=timestamp(request, "finishtime-from"),
            finish_to=timestamp(request, "finishtime-to"),
            user=flag(request, "user", True),
            first=number(request, "first", 1, 1, 10**9),
            number=number(request, "number", 100, 0, 10**9),
            types=csv(request, "type"),
            states=None if states is None else [state_name(s) for s in states],
            priorities=None
            if priorities is None
            else [priority_name(priority_value(p)) for p in priorities],
            step=flag(request, "step", False),
            idonly=flag(request, "idonly", False),
            metadata=flag(request, "metadata", False),
            sort=parse_sort(request.query_params.get("sort") or "startTime desc"),
        )

    def in_store(self) -> bool:
        """Whether the store can do all of it: no state or priority filter, and an order by
        job id or start time (both the order of seq)."""
        by_seq = all(name in SEQ_ORDER for name, _ in self.sort[:1])
        return self.states is None and self.priorities is None and by_seq and bool(self.sort)

    def scan(self) -> Scan | None:
        """What the store cannot do (READY, WAITING and HOLD depend on problems,
        FINISHED_WARNING and priority names on the job's data): None when it can do all."""
        if self.in_store():
            return None
        return Scan(self.keep, [(SORT_KEY[name], desc) for name, desc in self.sort])

    def query(self, user: str | None) -> JobQuery:
        """What the store can filter; the rest is checked by `keep`. Time bounds are exact
        at the milliseconds the documents show."""
        states: list[State] | None = None
        if self.states is not None:  # an empty list filters nothing here; `keep` drops all
            states = sorted({s for name in self.states for s in STORE_STATES[name]})
        return JobQuery(
            queues=self.types,
            states=states,
            owner=user if self.user else None,
            metadata=self.metadata_filter,
            created_after=_from_ms(self.start_from),
            created_before=_to_ms(self.start_to),
            finished_after=_from_ms(self.finish_from),
            finished_before=_to_ms(self.finish_to),
            sort="seq",
            descending=bool(self.sort) and self.sort[0][1],
        )

    def keep(self, s: Situation) -> bool:
        if self.states is not None and status(s) not in self.states:
            return False
        if self.priorities is not None and priority_name(s.job.priority) not in self.priorities:
            return False
        return _within(s.job.created_at, self.start_from, self.start_to) and _within(
            s.job.finished_at, self.finish_from, self.finish_to
        )


def _from_ms(t: float | None) -> float | None:
    """The store's lower bound (inclusive) for times shown at or after `t`'s millisecond
    (a time is shown rounded to the millisecond)."""
    return None if t is None else (round(t * 1000) - 0.5) / 1000


def _to_ms(t: float | None) -> float | None:
    """The store's upper bound (exclusive) for times shown at or before `t`'s millisecond."""
    return None if t is None else (round(t * 1000) + 0.5) / 1000


def _rendered_ms(t: float) -> int | None:
    """`t` in milliseconds exactly as the documents show it (None if it shows as none)."""
    shown = iso(t)
    if shown is None:
        return None
    return round(datetime.fromisoformat(shown.replace("Z", "+00:00")).timestamp() * 1000)


def _within(t: float | None, low: float | None, high: float | None) -> bool:
    if low is None and high is None:
        return True
    ms = None if t is None else _rendered_ms(t)
    if ms is None:
        return False
    return (low is None or ms >= round(low * 1000)) and (high is None or ms <= round(high * 1000))
