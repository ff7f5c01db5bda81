"""Titan job API 0.3.3 (seed 001), default mount /titan-0.3/v1 (its clients expect /v1).

A group is a jobq queue. Jobs live under /groups/{group_name}/jobs; `GET /jobs` claims from any
queue. A translation table: every decision is the engine's, every permission the guard's
(docs/auth.md: which route follows which rule).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import Field

from jobq.api.dialects import common as c
from jobq.api.dialects.docs import add_docs
from jobq.api.dialects.titan import shared as t
from jobq.api.http.browsers import changes_state
from jobq.api.http.context import engine_of
from jobq.api.http.errors import HttpError
from jobq.api.http.responses import json
from jobq.api.http.security import guard_of
from jobq.auth.guard import absent
from jobq.auth.policy import Action
from jobq.engine import Engine, Reporter
from jobq.errors import Conflict, NotFound
from jobq.model import ClaimSpec, Job, JobQuery
from jobq.states import TERMINAL, State

MAX_BATCH = 10_000  # jobs per POST (all of them share one created_at)
MILLISECOND_MAX = 10 * MAX_BATCH  # jobs a page may add to finish its last millisecond
NAME = "titan-0.3"
PREFIX = "/titan-0.3/v1"
STATUS = t.statuses(succeeded="success", failed="error")
Group = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": 'Error: `{"error": {"message", "fields"}}`'},
    401: {"description": "Error: no valid API key (`Authorization: Bearer KEY`)"},
    403: {"description": "Error: the caller's role on the group does not allow this"},
    404: {"description": "Error"},
    429: {"description": "Error: too many failed authentications from this address"},
    409: {"description": 'IdStatus `{"id", "status"}` (cancel: Error)'},
}


class NewJob(t.Loose):
    image: Annotated[str, Field(min_length=1, max_length=200)]
    priority: t.Priority
    payload: t.Payload | None = None
    delay: t.Seconds = 0
    timeout: t.Timeout = t.TIMEOUT
    max_retries: t.MaxRetries = 0
    retries_delay: t.Seconds = t.RETRIES_DELAY


class NewJobsWrapper(t.Loose):
    jobs: Annotated[list[NewJob], Field(max_length=MAX_BATCH)]


class Start(t.Loose):
    started_at: datetime | None = None


def document(job: Job) -> dict[str, Any]:
    return t.set_fields(
        {
            **t.job_fields(job),
            "status": STATUS[job.state],
            "group_name": job.queue,
            "retry_at": job.retried_by,
        }
    )


def one(job: Job, status: int = 200) -> Response:
    return json({"job": document(job)}, status)


def many(jobs: list[Job], status: int = 200) -> Response:
    return json({"jobs": [document(j) for j in jobs]}, status)


async def in_group(request: Request, group: str, id: str, action: Action) -> Job:
    """The job `id` of `group`, once the caller may do `action` on it (rule J: 404 without a
    role on the job's group, whatever group the path names)."""
    guard = await guard_of(request)
    job = guard.check(await engine_of(request).find(id), id, action)
    if job.queue != group:
        raise absent(id)
    return job


async def id_status(id: str, outcome: Awaitable[Response]) -> Response:
    """The outcome, or 409 IdStatus when the job is not in a state that allows it."""
    try:
        return await outcome
    except Conflict as exc:
        state = str(exc.details.get("state"))
        status = STATUS[State(state)] if state in State.__members__ else None
        return json({"id": id, "status": status}, 409)


async def enqueue(request: Request, group_name: Group, body: NewJobsWrapper) -> Response:
    """Enqueue job(s) in the group: all of them, or none if any is invalid."""
    specs = [
        t.spec(
            group_name,
            c.owner(request),
            j.image,
            j.payload,
            j.delay,
            j.timeout,
            j.priority,
            j.max_retries,
            j.retries_delay,
        )
        for j in body.jobs
    ]
    await (await guard_of(request)).enqueue([group_name])
    inserted = await engine_of(request).enqueue(specs)
    return many([job for job, _ in inserted], 201)


async def list_group(
    request: Request,
    group_name: Group,
    created_after: datetime | None = None,
    n: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """The group's jobs, oldest first; pass the last `created_at` as `created_after` for more.
    Empty unless the caller may read the group. A page never ends inside a millisecond (the
    jobs of one POST share one): it holds the rest of its last job's millisecond too, so
    paging by `created_after` visits every job exactly once."""
    if not (await guard_of(request)).listing([group_name]):
        return many([])
    after = None if created_after is None else _after_ms(created_after)
    engine = engine_of(request)
    page = await engine.list_jobs(JobQuery(queues=[group_name], created_after=after, limit=n))
    if len(page) == n:
        page += await _rest_of_millisecond(engine, group_name, page[-1])
    return many(page)


def _after_ms(t: datetime) -> float:
    """The least stored time shown after `t`'s millisecond (shown times are rounded)."""
    return (math.floor(t.timestamp() * 1000 + 1e-6) + 0.5) / 1000


async def _rest_of_millisecond(engine: Engine, group: str, last: Job) -> list[Job]:
    """The jobs after `last` (in seq order) shown at the same millisecond."""
    shown = round(last.created_at * 1000)
    query = JobQuery(
        queues=[group],
        created_after=(shown - 0.5) / 1000,
        created_before=(shown + 0.5) / 1000,
        after=(last.seq, last.seq),
        limit=MILLISECOND_MAX,
    )
    return await engine.list_jobs(query)


@changes_state  # a GET that hands out jobs: refused cross-site (jobq.api.http.browsers)
async def consume(request: Request, n: Annotated[int, Query(ge=1, le=1000)] = 1) -> Response:
    """Up to n jobs from any group the caller may work on, each now running; no other
    consumer gets them."""
    engine = engine_of(request)
    guard = await guard_of(request)
    queues = guard.queues_for(Action.work)
    if queues == []:
        return many([])
    return many(await engine.claim(ClaimSpec(queues, None, n, None, await c.worker(request, NAME))))


async def get_job(request: Request, group_name: Group, id: str) -> Response:
    return one(await in_group(request, group_name, id, Action.read))


async def delete_job(request: Request, group_name: Group, id: str) -> Response:
    """Delete a finished job and its log (409 IdStatus otherwise)."""
    engine = engine_of(request)
    await in_group(request, group_name, id, Action.manage)

    async def delete() -> Response:
        [state] = await engine.delete([id])
        if state is None:
            raise NotFound("job not found", id=id)
        if state not in TERMINAL:
            raise Conflict("only a finished job can be deleted", state=str(state), id=id)
        return Response(status_code=200)

    return await id_status(id, delete())


async def cancel(request: Request, group_name: Group, id: str) -> Response:
    """Cancel a delayed, queued or running job (reason client_request); 409 once finished."""
    engine = engine_of(request)
    await in_group(request, group_name, id, Action.manage)
    return one(await engine.cancel(id, "client_request", None, immediate=True))


async def start(
    request: Request, group_name: Group, id: str, body: Start | None = None
) -> Response:
    """Mark the job running: a queued job is taken now; a consumed one has its timeout reset
    (it keeps the `started_at` of the moment it was handed out)."""
    engine = engine_of(request)
    job = await in_group(request, group_name, id, Action.work)
    if job.state == State.queued:
        spec = ClaimSpec([job.queue], None, 1, None, await c.worker(request, NAME), ids=[id])
        claimed = await engine.claim(spec)
        if claimed:
            return one(claimed[0])
        job = await engine.get(id)
    return await id_status(id, _touched(engine, job, await c.reporter(request)))


async def _touched(engine: Engine, job: Job, by: Reporter) -> Response:
    if job.state != State.running:
        raise Conflict("the job is not queued or running", state=str(job.state), id=job.id)
    return one(await engine.heartbeat_as(by, job))


async def success(request: Request, group_name: Group, id: str) -> Response:
    """Mark a running job succeeded."""
    engine = engine_of(request)
    job = await in_group(request, group_name, id, Action.work)
    return await id_status(id, _completed(engine, job, await c.reporter(request)))


async def _completed(engine: Engine, job: Job, by: Reporter) -> Response:
    return one(await engine.complete_as(by, job))


async def error(request: Request, group_name: Group, id: str) -> Response:
    """Mark a running job failed with `reason` (timeout, killed, bad_exit; form field, JSON
    body field or query parameter)."""
    engine = engine_of(request)
    job = await in_group(request, group_name, id, Action.work)
    failure = t.failure_error(await _reason(request), None)
    by = await c.reporter(request)
    return await id_status(id, _failed(engine, job, by, failure))


async def _failed(engine: Engine, job: Job, by: Reporter, failure: dict[str, Any]) -> Response:
    return one(await engine.fail_as(by, job, failure))


async def _reason(request: Request) -> str:
    kind = request.headers.get("content-type", "").lower()
    if kind.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        value = (await request.form()).get("reason")
    else:
        body = await t.json_body(request)
        value = body.get("reason") if isinstance(body, dict) else body
    value = value if isinstance(value, str) else request.query_params.get("reason")
    return value or "bad_exit"


async def touch(request: Request, group_name: Group, id: str) -> Response:
    """Reset a running job's timeout (409 IdStatus when it is not running)."""
    engine = engine_of(request)
    job = await in_group(request, group_name, id, Action.work)
    return await id_status(id, _touch(engine, job, await c.reporter(request)))


async def _touch(engine: Engine, job: Job, by: Reporter) -> Response:
    await engine.heartbeat_as(by, job)
    return Response(status_code=200)


async def retry(request: Request, group_name: Group, id: str) -> Response:
    """A NEW job running this one again (succeeded, cancelled, or failed with max_retries 0)."""
    engine = engine_of(request)
    await in_group(request, group_name, id, Action.manage)
    return await id_status(id, _retried(engine, id))


async def _retried(engine: Engine, id: str) -> Response:
    return one(await engine.retry(id))


async def upload_log(
    request: Request, group_name: Group, id: str, log: Annotated[UploadFile, File()]
) -> Response:
    """Store the job's log (multipart file `log`), usually sent after it finished."""
    engine = engine_of(request)
    await in_group(request, group_name, id, Action.work)
    await (await guard_of(request)).reporter(id)
    await t.check_log(log)
    await t.store_log(engine, id, log)
    return one(await engine.get(id), 201)


async def download_log(request: Request, group_name: Group, id: str) -> Response:
    """The job's log, text/plain; 428 while the job has not finished."""
    engine = engine_of(request)
    job = await in_group(request, group_name, id, Action.read_logs)
    if job.state not in TERMINAL:
        return t.titan_error(request, HttpError(428, "not_finished", _unfinished(job), {}))
    return await t.log_response(engine, id)


def _unfinished(job: Job) -> str:
    return f"the job is {STATUS[job.state]}; its log is kept once it has finished"


def build_router() -> APIRouter:
    router = APIRouter(responses=ERRORS)
    add = router.add_api_route
    jobs, job = "/groups/{group_name}/jobs", "/groups/{group_name}/jobs/{id}"
    add(jobs, enqueue, methods=["POST"], status_code=201, summary="Enqueue Job")
    add(jobs, list_group, methods=["GET"], summary="Get job list by group name.")
    add("/jobs", consume, methods=["GET"], summary="Get next job.")
    add(job, get_job, methods=["GET"], summary="Gets job by id")
    add(job, delete_job, methods=["DELETE"], summary="Delete the job.")
    add(f"{job}/cancel", cancel, methods=["POST"], summary="Cancel a job.")
    add(f"{job}/start", start, methods=["POST"], summary="Mark job as started.")
    add(f"{job}/success", success, methods=["POST"], summary="Mark job as succeeded.")
    add(f"{job}/error", error, methods=["POST"], summary="Mark job as failed.")
    add(f"{job}/touch", touch, methods=["POST"], summary="Extend job timeout.")
    add(f"{job}/retry", retry, methods=["POST"], summary="Retry a job.")
    add(f"{job}/log", upload_log, methods=["POST"], status_code=201, summary="Send in a log.")
    add(f"{job}/log", download_log, methods=["GET"], summary="Get the log of a completed job.")
    add_docs(router, "Titan 0.3", "0.3.3", "Titan's job API 0.3.3 (seed 001), served by jobq.")
    return router
