"""Titan job API 0.2.x (seed 000), default mount /titan-0.2/v1.

Flat routes over one queue ("default", jobq's own default queue): `GET /jobs` peeks,
`GET /jobs/consume` claims. A translation table: every decision is the engine's, every
permission the guard's (docs/auth.md: which route follows which rule).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import Field

from jobq import fields
from jobq.api.dialects import common as c
from jobq.api.dialects.docs import add_docs
from jobq.api.dialects.titan import shared as t
from jobq.api.http.browsers import changes_state
from jobq.api.http.context import engine_of
from jobq.api.http.responses import json
from jobq.api.http.security import guard_of
from jobq.auth.policy import Action
from jobq.errors import Conflict, NotFound
from jobq.model import ClaimSpec, Job, JobQuery
from jobq.states import LIVE, TERMINAL

NAME = "titan-0.2"
PREFIX = "/titan-0.2/v1"
QUEUE = "default"
STATUS = t.statuses(succeeded="succeeded", failed="failed")
ERRORS: dict[int | str, dict[str, Any]] = {
    c: {"description": '`{"error": {"message", "fields"}}`'} for c in (400, 401, 403, 404, 409, 429)
}


DETAILS = {"type": "string", "maxLength": fields.MESSAGE_MAX, "description": "Why, as text."}
DETAILS_BODY: dict[str, Any] = {
    "requestBody": {"required": False, "content": {"application/json": {"schema": DETAILS}}}
}


class NewJob(t.Loose):
    image: Annotated[str, Field(max_length=fields.NAME_MAX)] | None = None
    payload: t.Payload | None = None
    delay: t.Seconds = 0
    timeout: t.Timeout = t.TIMEOUT
    priority: t.Priority = 0
    max_retries: t.MaxRetries = 3
    retries_delay: t.Seconds = t.RETRIES_DELAY


class NewJobsWrapper(t.Loose):
    jobs: list[NewJob]


def document(job: Job) -> dict[str, Any]:
    return t.set_fields(
        {
            **t.job_fields(job),
            "status": STATUS[job.state],
            "details": t.details(job),
            "retry_id": job.retried_by,
        }
    )


def one(job: Job) -> Response:
    return json({"job": document(job)})


def many(jobs: list[Job], status: int = 200) -> Response:
    return json({"jobs": [document(j) for j in jobs]}, status)


async def enqueue(request: Request, body: NewJobsWrapper) -> Response:
    """Enqueue job(s): all of them, or none if any is invalid."""
    specs = [
        t.spec(
            QUEUE,
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
    await (await guard_of(request)).enqueue([QUEUE])
    inserted = await engine_of(request).enqueue(specs)
    return many([job for job, _ in inserted], 201)


async def peek(request: Request, n: Annotated[int, Query(ge=1, le=1000)] = 10) -> Response:
    """Active (delayed, queued, running) jobs, without taking any (none unless the caller
    may read the queue)."""
    if not (await guard_of(request)).listing([QUEUE]):
        return many([])
    query = JobQuery(queues=[QUEUE], states=sorted(LIVE), limit=n)
    return many(await engine_of(request).list_jobs(query))


@changes_state  # a GET that hands out jobs: refused cross-site (jobq.api.http.browsers)
async def consume(request: Request, n: Annotated[int, Query(ge=1, le=1000)] = 1) -> Response:
    """Up to n jobs, each now running; no other consumer gets them."""
    (await guard_of(request)).queue(QUEUE, Action.work)
    spec = ClaimSpec([QUEUE], None, n, None, await c.worker(request, NAME))
    return many(await engine_of(request).claim(spec))


async def get_job(request: Request, id: str) -> Response:
    await (await guard_of(request)).job(id, Action.read)
    return one(await engine_of(request).get(id))


async def delete_job(request: Request, id: str) -> Response:
    """Delete a succeeded, failed or cancelled job and its log."""
    await (await guard_of(request)).job(id, Action.manage)
    [state] = await engine_of(request).delete([id])
    if state is None:
        raise NotFound("job not found", id=id)
    if state not in TERMINAL:
        raise Conflict(f"only a finished job can be deleted; this one is {STATUS[state]}", id=id)
    return Response(status_code=200)


async def cancel(request: Request, id: str) -> Response:
    """Cancel a delayed, queued or running job; the body is the details, as text (Titan's
    generated client sends the string unquoted under `Content-Type: application/json`) or
    as a JSON string. A running job is cancelled at once: its runner's later reports are
    refused."""
    await (await guard_of(request)).job(id, Action.manage)
    details = t.text_body(await request.body(), "details")
    return one(await engine_of(request).cancel(id, "client_request", details, immediate=True))


async def fail(
    request: Request,
    id: str,
    reason: Annotated[str, Form()] = "bad_exit",
    details: Annotated[str | None, Form()] = None,
    log: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Mark a running job failed (reason timeout, killed or bad_exit), with its log."""
    await (await guard_of(request)).job(id, Action.work)
    engine = engine_of(request)
    error = t.failure_error(reason, details)
    await t.check_log(log)
    job = await engine.fail_as(await c.reporter(request), await engine.get(id), error)
    await t.store_log(engine, id, log)
    return one(job)


async def success(
    request: Request, id: str, log: Annotated[UploadFile | None, File()] = None
) -> Response:
    """Mark a running job succeeded, with its log."""
    await (await guard_of(request)).job(id, Action.work)
    engine = engine_of(request)
    await t.check_log(log)
    job = await engine.complete_as(await c.reporter(request), await engine.get(id))
    await t.store_log(engine, id, log)
    return one(job)


async def retry(request: Request, id: str) -> Response:
    """A new job running this one again (succeeded, cancelled, or failed with max_retries 0)."""
    await (await guard_of(request)).job(id, Action.manage)
    return one(await engine_of(request).retry(id))


async def touch(request: Request, id: str) -> Response:
    """Reset a running job's timeout."""
    await (await guard_of(request)).job(id, Action.work)
    engine = engine_of(request)
    await engine.heartbeat_as(await c.reporter(request), await engine.get(id))
    return Response(status_code=200)


async def log(request: Request, id: str) -> Response:
    """The job's log, text/plain."""
    await (await guard_of(request)).job(id, Action.read_logs)
    return await t.log_response(engine_of(request), id)


def build_router() -> APIRouter:
    router = APIRouter(responses=ERRORS)
    add = router.add_api_route
    add("/jobs", enqueue, methods=["POST"], status_code=201, summary="Enqueue Job")
    add("/jobs", peek, methods=["GET"], summary="Peek at list of jobs.")
    add("/jobs/consume", consume, methods=["GET"], summary="Get next job.")
    add("/job/{id}", get_job, methods=["GET"], summary="Gets job by id")
    add("/job/{id}", delete_job, methods=["DELETE"], summary="Delete the job.")
    add(
        "/job/{id}/cancel",
        cancel,
        methods=["POST"],
        summary="Cancel a job.",
        openapi_extra=DETAILS_BODY,
    )
    add("/job/{id}/fail", fail, methods=["POST"], summary="Mark job as failed.")
    add("/job/{id}/success", success, methods=["POST"], summary="Mark job as succeeded.")
    add("/job/{id}/retry", retry, methods=["POST"], summary="Retry a job.")
    add("/job/{id}/touch", touch, methods=["POST"], summary="Extend job timeout.")
    add("/job/{id}/log", log, methods=["GET"], summary="Get the log of a completed job.")
    add_docs(router, "Titan 0.2", "0.2.0", "Titan's job API 0.2.x (seed 000), served by jobq.")
    return router
