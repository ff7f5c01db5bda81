"""Posit Connect's content-jobs API (seed 003), mounted at /__api__ by default.

A content item (guid) is a jobq queue; its jobs are that queue's jobs. Shapes are in
`shapes`, permissions in `access`. Beside the seed's seven job routes, two
routes exist only so that posit-sdk can reach them: `GET /server_settings` and
`GET /v1/content/{guid}` (see docs/design.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel

from jobq import __version__
from jobq.api.dialects.connect import shapes as shape
from jobq.api.dialects.connect.access import ContentAction, authorize
from jobq.api.dialects.docs import add_docs
from jobq.api.http.context import engine_of
from jobq.api.http.disposition import attachment
from jobq.api.http.errors import HttpError
from jobq.api.http.responses import json
from jobq.api.http.standing import standing, while_standing
from jobq.engine import Engine
from jobq.errors import InvalidInput, NotFound
from jobq.loglimit import PAGE_CHARS
from jobq.model import Job, JobQuery, LogEntry, new_id

NAME = "connect"
PREFIX = "/__api__"
MAX_LISTED = 10_000  # jobs in one listing, newest first (Connect's listing has no paging)
LOG_PAGE = 10_000  # lines read at a time when following a log (and at most PAGE_CHARS)
TAIL_BACKLOG = 5_000  # lines a tail starts with, as /log's default
KEEPALIVE_SECONDS = 15.0
KILL_REASON = "kill order registered through the Connect API"

CODES = {400: 3, 401: 24, 403: 22, 404: 4, 409: 163, 422: 3}
MESSAGES = {
    4: "The requested object does not exist.",
    22: "You do not have permission to perform this operation.",
    24: "The requested operation requires authentication.",
    163: "The specified job cannot be terminated because it is not active",
}
OTHER_CODE = 1  # any error the seed does not name (405, 413, 429, 503)

MaxLogLines = Annotated[int, Query(alias="maxLogLines", ge=0, le=1_000_000)]
Filename = Annotated[str | None, Query(max_length=255)]


class ConnectError(BaseModel):
    """Every error: Connect's numbered code, a sentence, jobq's details."""

    code: int
    error: str
    payload: dict[str, Any] | None


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ConnectError} for status in (400, 401, 403, 404, *statuses)}


def build_router() -> APIRouter:
    router = APIRouter()
    route = router.add_api_route
    jobs = "/v1/content/{guid}/jobs"
    job = jobs + "/{key}"
    route("/server_settings", server_settings, methods=["GET"])
    route("/v1/content/{guid}", get_content, methods=["GET"], responses=_errors())
    route(jobs, get_jobs, methods=["GET"], summary="GetJobs", responses=_errors())
    route(job, get_job, methods=["GET"], summary="GetJob", responses=_errors())
    route(job, kill_job, methods=["DELETE"], summary="KillJob", responses=_errors(409))
    route(job + "/log", job_logs, methods=["GET"], summary="JobLogs", responses=_errors())
    route(job + "/tail", job_tail_log, methods=["GET"], summary="JobTailLog", responses=_errors())
    route(
        job + "/download",
        job_download_log,
        methods=["GET"],
        summary="JobDownloadLog",
        responses=_errors(),
    )
    route(
        job + "/error",
        job_error,
        methods=["GET"],
        summary="JobError",
        responses={204: {"description": "No error is found."}, **_errors()},
    )
    add_docs(router, "Posit Connect", "1", "The Posit Connect content jobs API, served by jobq.")
    return router


def connect_error(request: Request, err: HttpError) -> Response:
    """`{"code", "error", "payload"}`: Connect's numbered codes, jobq's details as payload."""
    code = CODES.get(err.status, OTHER_CODE)
    status = 400 if err.status == 422 else err.status
    body = {"code": code, "error": MESSAGES.get(code, err.message), "payload": err.details or None}
    headers = {"Retry-After": "1"} if status == 503 else None
    return json(body, status, headers)


# --- what posit-sdk reads before it reaches the jobs ---


async def server_settings(request: Request) -> Response:
    """No Connect version is claimed (null), so posit-sdk gates no feature on one."""
    return json({"version": None, "product": "jobq", "jobq_version": __version__})


async def get_content(request: Request, guid: str) -> Response:
    """A content item: the few fields posit-sdk needs (`guid` above all)."""
    await _content_access(request, guid, ContentAction.read)
    first = await _first_job(engine_of(request), guid)
    if first is None and not await _known_queue(engine_of(request), guid):
        raise NotFound("content not found", guid=guid)
    return json(shape.content_item(guid, first))


# --- the seed's routes ---


async def get_jobs(request: Request, guid: str) -> Response:
    """GetJobs: every job of the content item, newest first (at most MAX_LISTED)."""
    await _content_access(request, guid, ContentAction.read)
    engine = engine_of(request)
    query = JobQuery(queues=[guid], sort="seq", descending=True, limit=MAX_LISTED)
    jobs = await engine.list_jobs(query)
    if not jobs and not await _known_queue(engine, guid):
        raise NotFound("content not found", guid=guid)
    now = engine.clock()
    return json([shape.job_item(job, now) for job in jobs])


async def get_job(request: Request, guid: str, key: str) -> Response:
    """GetJob: one job of the content item by key."""
    job = await _content_job(request, guid, key, ContentAction.read)
    return json(shape.job_item(job, engine_of(request).clock()))


async def kill_job(request: Request, guid: str, key: str) -> Response:
    """KillJob: a waiting job is cancelled at once; a running one is asked to stop (its worker
    hears `cancel_requested` on its next heartbeat). 409 (code 163) once it has finished."""
    job = await _content_job(request, guid, key, ContentAction.kill)
    job = await engine_of(request).cancel(job.id, KILL_REASON)
    return json(shape.kill_order(job, new_id()))


async def job_logs(
    request: Request, guid: str, key: str, max_log_lines: MaxLogLines = 5000
) -> Response:
    """JobLogs: the last `maxLogLines` lines."""
    job = await _content_job(request, guid, key, ContentAction.read)
    entries = []
    if max_log_lines > 0:
        entries = await engine_of(request).logs(job.id, 0, max_log_lines, max_log_lines)
    return json({"entries": [shape.log_entry(e) for e in entries]})


async def job_tail_log(request: Request, guid: str, key: str) -> Response:
    """JobTailLog: newline-delimited LogEntry objects as they are written; the stream closes
    once the job is finalized, or once the caller's key or right to read is revoked."""
    job = await _content_job(request, guid, key, ContentAction.read)
    caller = await standing(request, lambda _: authorize(request, guid, ContentAction.read))
    lines = while_standing(_follow(request, engine_of(request), job.id), caller)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(lines, media_type="application/x-ndjson", headers=headers)


async def job_download_log(
    request: Request, guid: str, key: str, filename: Filename = None
) -> Response:
    """JobDownloadLog: the whole log, stdout and stderr in the order written, as a file."""
    job = await _content_job(request, guid, key, ContentAction.read)
    name = shape.default_filename(job) if filename is None else _filename(filename)
    headers = {"Content-Disposition": attachment(name)}
    body = _log_file(engine_of(request), job.id)
    return StreamingResponse(body, media_type="text/plain; charset=utf-8", headers=headers)


async def job_error(request: Request, guid: str, key: str) -> Response:
    """JobError: the job's error as a LoggedError, 204 when it has none."""
    job = await _content_job(request, guid, key, ContentAction.read)
    error = shape.logged_error(job)
    return Response(status_code=204) if error is None else json(error)


# --- helpers ---


async def _content_access(request: Request, guid: str, action: ContentAction) -> None:
    if not shape.GUID.match(guid):
        raise InvalidInput("invalid content guid", guid=guid)
    await authorize(request, guid, action)


async def _content_job(request: Request, guid: str, key: str, action: ContentAction) -> Job:
    """The job `key` of content `guid`, once the caller may do `action` on it."""
    await _content_access(request, guid, action)
    if not shape.KEY.match(key):
        raise InvalidInput("invalid job key", key=key)
    job = await _job_or_none(engine_of(request), key.lower())
    if job is None or job.queue != guid:
        raise NotFound("job not found", guid=guid, key=key)
    return job


async def _first_job(engine: Engine, guid: str) -> Job | None:
    jobs = await engine.list_jobs(JobQuery(queues=[guid], sort="seq", limit=1))
    return jobs[0] if jobs else None


async def _known_queue(engine: Engine, guid: str) -> bool:
    """A queue with no jobs still exists if jobq knows it (e.g. it was paused)."""
    return any(q.name == guid for q in await engine.queues())


def _filename(name: str) -> str:
    if not shape.FILENAME.match(name):
        raise InvalidInput("invalid file name", filename=name)
    return name


async def _log_file(engine: Engine, job_id: str) -> AsyncIterator[bytes]:
    async for page in engine.log_pages(job_id):
        yield "".join(shape.log_line(e) for e in page).encode()


async def _follow(request: Request, engine: Engine, job_id: str) -> AsyncIterator[bytes]:
    """Lines as they are written, until the job is finalized (or the client leaves)."""
    with engine.follow_job(job_id) as news:
        after = 0
        backlog = await _logs_after(engine, job_id, 0, TAIL_BACKLOG)
        while not await request.is_disconnected():
            entries = backlog or await _logs_after(engine, job_id, after)
            backlog = []
            if entries:
                after = entries[-1].seq
                yield _ndjson(entries)
                continue
            wait = _wait_before_next_look(await _job_or_none(engine, job_id), engine.clock())
            if wait is None:
                return
            if not await news.wait(wait):
                yield b"\n"  # keep-alive: an empty line, which NDJSON readers skip


async def _logs_after(
    engine: Engine, job_id: str, after: int, tail: int | None = None
) -> list[LogEntry]:
    """The next lines after seq `after` (the last `tail` ones if given); none once the job
    is gone (purged or deleted while someone reads its log)."""
    try:
        return await engine.logs(job_id, after, tail, tail or LOG_PAGE, PAGE_CHARS)
    except NotFound:
        return []


async def _job_or_none(engine: Engine, job_id: str) -> Job | None:
    try:
        return await engine.get(job_id)
    except NotFound:
        return None


def _wait_before_next_look(job: Job | None, now: float) -> float | None:
    """How long to wait for more lines; None once the job is finalized (or gone)."""
    if job is None:
        return None
    closes = shape.finalized_at(job)
    if closes is None:
        return KEEPALIVE_SECONDS
    if now >= closes:
        return None
    return min(closes - now, KEEPALIVE_SECONDS)


def _ndjson(entries: list[LogEntry]) -> bytes:
    return b"".join(orjson.dumps(shape.log_entry(e)) + b"\n" for e in entries)
