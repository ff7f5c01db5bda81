"""The native API's logs and streams, mounted at /api/v1: a job's log (append, read, follow,
download) and the event stream of transitions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse

from jobq.api.http.context import engine_of
from jobq.api.http.responses import json
from jobq.api.http.security import guard_of
from jobq.api.http.sse import KEEPALIVE, KEEPALIVE_SECONDS, frame, stream
from jobq.api.http.standing import standing, while_standing
from jobq.api.native import schemas as s
from jobq.api.native.routes import ERRORS, JSON_ERRORS, may, seconds
from jobq.auth.guard import Guard
from jobq.auth.policy import Action
from jobq.engine import Engine
from jobq.fields import SEQ_MAX
from jobq.loglimit import PAGE_CHARS
from jobq.render import iso, log_document
from jobq.states import TERMINAL

router = APIRouter()
REVOKED = frame(
    {"code": "unauthorized", "message": "the key or the right to read was revoked"},
    event="unauthorized",
)


@router.post("/jobs/{job_id}/logs", status_code=201, responses=ERRORS)
async def append_logs(request: Request, job_id: str, body: s.LogsIn) -> Response:
    guard = await guard_of(request)
    await guard.job(job_id, Action.work)
    await guard.reporter(job_id)
    entries = [(seconds(e.time), e.stream, e.text) for e in body.entries]
    last = await engine_of(request).append_logs(job_id, entries)
    return json({"last_seq": last}, 201)


@router.get("/jobs/{job_id}/logs", responses=ERRORS)
async def read_logs(
    request: Request,
    job_id: str,
    tail: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    after: Annotated[int, Query(ge=0, le=SEQ_MAX)] = 0,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> Response:
    await (await guard_of(request)).job(job_id, Action.read_logs)
    entries = await engine_of(request).logs(job_id, after, tail, limit)
    last = entries[-1].seq if entries else after
    return json({"entries": [log_document(e) for e in entries], "last_seq": last})


@router.get("/jobs/{job_id}/logs/stream", responses=ERRORS)
async def stream_logs(
    request: Request, job_id: str, after: Annotated[int, Query(ge=0, le=SEQ_MAX)] = 0
) -> Response:
    """Server-sent events: each log entry as it is written; `end` once the job finished.
    The stream ends (after an `unauthorized` event) once the key or the right to read the
    job's logs is gone."""
    caller = await standing(request, may(job_id, Action.read_logs))
    engine = engine_of(request)
    await engine.get(job_id)
    return stream(request, while_standing(_follow_logs(engine, job_id, after), caller, REVOKED))


@router.get("/jobs/{job_id}/log.txt", response_class=PlainTextResponse, responses=JSON_ERRORS)
async def download_log(request: Request, job_id: str) -> Response:
    """The whole log as text, streamed page by page (flat memory, whatever its size)."""
    await (await guard_of(request)).job(job_id, Action.read_logs)
    engine = engine_of(request)
    await engine.get(job_id)
    headers = {"Content-Disposition": f'attachment; filename="job-{job_id}.log"'}
    return StreamingResponse(
        _log_text(engine, job_id), media_type="text/plain; charset=utf-8", headers=headers
    )


@router.get("/events")
async def events(request: Request) -> Response:
    """Server-sent events: every transition (id, queue, event, from, to, at) from now on, of the
    queues the caller may read (as its roles stand while the stream is open). The stream ends
    (after an `unauthorized` event) once its key is revoked."""
    caller = await standing(request)
    events = _follow_events(engine_of(request), lambda: caller.guard)
    return stream(request, while_standing(events, caller, REVOKED))


# --- helpers ---


async def _log_text(engine: Engine, job_id: str) -> AsyncIterator[bytes]:
    async for page in engine.log_pages(job_id):
        yield "".join(f"{iso(e.time)} {e.stream} {e.text.rstrip(chr(10))}\n" for e in page).encode()


async def _follow_logs(engine: Engine, job_id: str, after: int) -> AsyncIterator[bytes]:
    with engine.follow_job(job_id) as news:
        while True:
            entries = await engine.logs(job_id, after, max_chars=PAGE_CHARS)
            for entry in entries:
                after = entry.seq
                yield frame(log_document(entry), event="log", id=entry.seq)
            if not entries:
                job = await engine.get(job_id)
                if job.state in TERMINAL:
                    yield frame({"id": job_id, "state": str(job.state)}, event="end")
                    return
                if not await news.wait(KEEPALIVE_SECONDS):
                    yield KEEPALIVE


async def _follow_events(engine: Engine, guard: Callable[[], Guard]) -> AsyncIterator[bytes]:
    """Transitions of the queues the caller may read, by its Guard as it stands now."""
    yield KEEPALIVE
    with engine.follow_events() as news:
        while True:
            if not await news.wait(KEEPALIVE_SECONDS):
                yield KEEPALIVE
                continue
            for event in news.drain():
                if not guard().may_read(event["queue"]):
                    continue
                yield frame({**event, "at": iso(event["at"])}, event="transition")
