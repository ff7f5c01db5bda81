"""The "Accepted" queue API (seed 002), default mount /accepted.

    Accepted                     jobq
    queue, params                queue, payload
    X-Accepted-Priority 0..3     priority (3 most urgent)
    X-Accepted-Delay             delay (status delayed until then)
    X-Accepted-Job-Timeout       deadline_seconds, counted from enqueue (failed, reason timeout,
                                 taken or not, however re-handed)
    X-Accepted-Result-TTL        result_ttl
    X-Accepted-Callback-URL      callback_url
    X-Accepted-Timeout           the claim's lease (at most 7 days, as everywhere): unfinished
                                 by then, the job is re-handed
    X-Accepted-Block-For         the claim's long-poll wait
    X-Accepted-Wait-Result       a result wait
    PUT status done|failed       complete | fail (final); running: heartbeat with progress

A translation table: every decision is the engine's, every permission the guard's
(docs/auth.md: which route follows which rule).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Body, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from jobq import reserved
from jobq.api.dialects import common as c
from jobq.api.dialects.docs import add_docs
from jobq.api.dialects.titan import shared as t
from jobq.api.http.context import engine_of
from jobq.api.http.departure import claim_while_there
from jobq.api.http.errors import HttpError
from jobq.api.http.responses import JSONResponse, json
from jobq.api.http.security import guard_of
from jobq.api.http.standing import Check, Standing, standing
from jobq.auth.guard import Guard
from jobq.auth.policy import Action
from jobq.engine import JobSpec
from jobq.engine.rules import check_lease
from jobq.errors import Conflict, Forbidden, InvalidInput
from jobq.model import ClaimSpec, Job, Worker
from jobq.states import TERMINAL, State

NAME = "accepted"
PREFIX = "/accepted"
REHANDS = 100  # attempts a job gets: each expired lease re-hands it (Job-Timeout bounds it too)
STATUS = {
    State.scheduled: "delayed",
    State.queued: "queued",
    State.running: "running",
    State.succeeded: "done",
    State.failed: "failed",
    State.cancelled: "cancelled",
}
ERRORS: dict[int | str, dict[str, Any]] = {
    c: {"description": '`{"error": code, "message": text, "details": {...}}`'}
    for c in (400, 401, 403, 404, 409, 429)
}
MAX_SECONDS = 10 * 365 * 86400.0


class NewJob(BaseModel):
    model_config = ConfigDict(extra="ignore")
    queue: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:@/-]+$")]
    params: dict[str, Any] = Field(default_factory=dict)


class Update(BaseModel):
    model_config = ConfigDict(extra="ignore")
    status: Literal["done", "failed", "running"]
    result: Any = None


def document(job: Job) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": job.id,
        "queue": job.queue,
        "status": STATUS[job.state],
        "priority": job.priority,
        "params": job.payload,
    }
    if job.state == State.succeeded:
        doc["result"] = job.result
    elif job.state in (State.failed, State.cancelled):
        error = job.error or {}
        doc["result"] = error.get("details")
        doc["reason"] = t.REASON_OF_CODE.get(str(error.get("code")), error.get("code"))
    return doc


def seconds(header: str, value: str | None) -> float | None:
    """A header's number of seconds (400 when it is not one, or out of range)."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not 0.0 <= number <= MAX_SECONDS:
        raise InvalidInput(f"{header} must be a number of seconds", field=header, value=value)
    return number


def priority(value: str | None) -> int:
    if value is None:
        return 0
    if value.strip() not in ("0", "1", "2", "3"):
        raise InvalidInput(
            "X-Accepted-Priority must be 0, 1, 2 or 3", field="X-Accepted-Priority", value=value
        )
    return int(value)


def callback_url(value: str | None) -> str | None:
    if value is not None and not (value.startswith(("http://", "https://")) and len(value) < 2000):
        raise InvalidInput(
            "X-Accepted-Callback-URL must be an http(s) URL", field="X-Accepted-Callback-URL"
        )
    return value


async def enqueue(
    request: Request,
    body: NewJob,
    x_accepted_priority: Annotated[str | None, Header()] = None,
    x_accepted_result_ttl: Annotated[str | None, Header()] = None,
    x_accepted_callback_url: Annotated[str | None, Header()] = None,
    x_accepted_job_timeout: Annotated[str | None, Header()] = None,
    x_accepted_delay: Annotated[str | None, Header()] = None,
) -> Response:
    """Enqueue a job: 202 with its handle in `Location`. Priority 3 is the most urgent."""
    url = callback_url(x_accepted_callback_url)
    spec = JobSpec(
        queue=body.queue,
        payload=body.params,
        metadata={reserved.CALLBACK_SHAPE: NAME} if url else {},  # the seed's job is POSTed
        priority=priority(x_accepted_priority),
        result_ttl=seconds("X-Accepted-Result-TTL", x_accepted_result_ttl),
        callback_url=url,
        deadline_seconds=seconds("X-Accepted-Job-Timeout", x_accepted_job_timeout),
        deadline_from_enqueue=True,  # a job nobody took fails at its timeout too
        delay=seconds("X-Accepted-Delay", x_accepted_delay),
        max_attempts=REHANDS,
        owner=c.owner(request),
    )
    if spec.deadline_seconds == 0:
        raise InvalidInput("X-Accepted-Job-Timeout must be above 0", field="X-Accepted-Job-Timeout")
    await (await guard_of(request)).enqueue([body.queue])
    [(job, _)] = await engine_of(request).enqueue([spec])
    location = f"{request.url.path.rstrip('/')}/{job.id}"
    return json(document(job), 202, headers={"Location": location})


async def get_job(
    request: Request, uuid: str, x_accepted_wait_result: Annotated[str | None, Header()] = None
) -> Response:
    """The job; with X-Accepted-Wait-Result, once it has finished or the wait is over."""
    engine = engine_of(request)
    wait = seconds("X-Accepted-Wait-Result", x_accepted_wait_result)
    caller = await standing(request, lambda guard: guard.job(uuid, Action.read))
    if not wait:
        return json(document(await engine.get(uuid)))
    job = await engine.wait(uuid, wait)
    await caller.confirm()  # the key may have been revoked while it waited
    return json(document(job))


async def want_job(
    request: Request,
    x_accepted_block_for: Annotated[str | None, Header()] = None,
    x_accepted_timeout: Annotated[str | None, Header()] = None,
) -> Response:
    """Take a job (from any queue, or those named by `?queue=`); 204 when there is none,
    after waiting up to X-Accepted-Block-For seconds. X-Accepted-Timeout is the lease.
    Named queues must all allow the caller to work (else 403); unnamed, the queues it may
    work on are tried."""
    engine = engine_of(request)
    wait = seconds("X-Accepted-Block-For", x_accepted_block_for) or 0.0
    lease = seconds("X-Accepted-Timeout", x_accepted_timeout)
    check_lease(lease, "X-Accepted-Timeout")
    queues = await _work_queues(request)
    guard = await guard_of(request)
    if queues == []:
        return Response(status_code=204)
    host = request.client.host if request.client else None
    worker = guard.claimant(Worker(NAME, host))
    spec = ClaimSpec(queues, None, 1, lease, worker)
    caller = Standing(request, guard, _may_work(request, queues))
    jobs = await claim_while_there(request.receive, engine, spec, wait, caller)
    if not jobs:
        return Response(status_code=204)
    # the lease token is not part of Accepted; it lets a worker that mixes APIs finish natively
    return json({**document(jobs[0]), "lease_token": jobs[0].lease_token})


def _may_work(request: Request, queues: list[str] | None) -> Check:
    """A claimer still may work: on every named queue, or on some of those it was given
    (every queue: still an administrator)."""
    named = bool(request.query_params.getlist("queue"))

    async def check(guard: Guard) -> None:
        if queues is None:
            if not guard.unrestricted:
                raise Forbidden("no longer allowed to work on every queue")
        elif named:
            guard.queues(queues, Action.work)
        elif not any(guard.may(q, Action.work) for q in queues):
            raise Forbidden("no longer allowed to work on these queues")

    return check


async def _work_queues(request: Request) -> list[str] | None:
    """The queues named by `?queue=` (each checked), else those the caller may work on
    (None: every queue)."""
    guard = await guard_of(request)
    named = request.query_params.getlist("queue")
    if named:
        guard.queues(named, Action.work)
        return named
    return guard.queues_for(Action.work)


async def update(request: Request, uuid: str, body: Annotated[Update, Body()]) -> Response:
    """Report on a job being worked: done or failed (final, with `result`), or running
    (progress; extends the lease)."""
    await (await guard_of(request)).job(uuid, Action.work)
    engine = engine_of(request)
    by, held = await c.reporter(request), await engine.get(uuid)
    if body.status == "done":
        job = await engine.complete_as(by, held, body.result)
    elif body.status == "failed":
        error = {"code": "failed", "message": "the worker reported failure", "details": body.result}
        job = await engine.fail_as(by, held, error, retryable=False)
    else:
        job = await engine.heartbeat_as(by, held, _progress(body.result))
    return json(document(job))


def _progress(result: Any) -> dict[str, Any] | None:
    if result is None:
        return None
    text = result if isinstance(result, str) else orjson.dumps(result).decode()
    return {"description": text[:2000]}


async def delete_job(request: Request, uuid: str) -> Response:
    """Cancel a job that has not finished; delete one that has. Answers with the job."""
    await (await guard_of(request)).job(uuid, Action.manage)
    engine = engine_of(request)
    job = await engine.get(uuid)
    if job.state not in TERMINAL:
        try:
            return json(document(await engine.cancel(uuid, "cancelled", None, immediate=True)))
        except Conflict:  # it finished meanwhile: delete it instead
            job = await engine.get(uuid)
    await engine.delete([uuid])
    return json(document(job))


def accepted_error(request: Request, err: HttpError) -> Response:
    """`{"error": code, "message": text, "details": {...}}`; bad input is 400."""
    status = 400 if err.status == 422 else err.status
    code, message = err.code, err.message
    if code == "stale_lease":  # Accepted has no lease tokens: say it in its terms
        code, message = (
            "not_running",
            "the job is not being worked on: it was not taken, "
            "or its X-Accepted-Timeout passed, or it was cancelled or has finished",
        )
    body = {"error": code, "message": message, "details": err.details}
    headers = {"Retry-After": "1"} if status == 503 else None
    return JSONResponse(body, status_code=status, headers=headers)


def build_router() -> APIRouter:
    # the seed writes its requests without a Content-Type: a body without one is JSON
    router = APIRouter(responses=ERRORS, strict_content_type=False)
    add = router.add_api_route
    add("/jobs", enqueue, methods=["POST"], status_code=202, summary="Enqueue a job.")
    add("/jobs/{uuid}", get_job, methods=["GET"], summary="Get job info.")
    add(
        "/want_job",
        want_job,
        methods=["POST"],
        summary="Grab a job for processing.",
        responses={204: {"description": "No job arrived within X-Accepted-Block-For."}},
    )
    add("/want_job/", want_job, methods=["POST"], include_in_schema=False)
    add("/jobs/{uuid}", update, methods=["PUT"], summary="Update the job.")
    add("/jobs/{uuid}", delete_job, methods=["DELETE"], summary="Delete or cancel the job.")
    add_docs(router, "Accepted", "1", "The Accepted queue API (seed 002), served by jobq.")
    return router
