"""What Titan 0.2 and 0.3 share: the job fields, their defaults, reasons, errors, logs.

How a Titan job lives in jobq (see docs/design.md, "Titan and Accepted dialects"):

    Titan           jobq
    image           type
    payload         payload (a string; other payloads are shown as their JSON text)
    delay           run_at = now + delay (shown as run_at - created_at)
    timeout         lease_seconds, with max_attempts 1: an expired lease fails the job
    priority 0..2   priority
    max_retries     metadata jobq.respawn.remaining (see jobq.engine.respawn)
    retries_delay   metadata jobq.respawn.delay
    retry_id/at     retried_by
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import Request, UploadFile
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from jobq import fields, reserved
from jobq.api.http.errors import HttpError
from jobq.api.http.json_limits import read_json
from jobq.api.http.responses import JSONResponse
from jobq.engine import Engine, JobSpec, respawn
from jobq.engine.rules import MAX_LEASE_SECONDS
from jobq.errors import InvalidInput
from jobq.model import Job
from jobq.render import iso
from jobq.states import State

TIMEOUT = 60
RETRIES_DELAY = 60
MAX_RETRIES = 25
FAILURE_REASONS = ("timeout", "killed", "bad_exit")
REASON_OF_CODE = {
    "timeout": "timeout",
    "killed": "killed",
    "bad_exit": "bad_exit",
    "lease_expired": "timeout",
    "deadline_exceeded": "timeout",
}
UPLOAD_PIECE = 1024 * 1024  # bytes of an uploaded log read (and stored as one entry) at a time

Seconds = Annotated[int, Field(ge=0, le=10 * 365 * 86400)]
Timeout = Annotated[int, Field(gt=0, le=MAX_LEASE_SECONDS)]
Priority = Annotated[int, Field(ge=0, le=2)]
MaxRetries = Annotated[int, Field(ge=0, le=MAX_RETRIES)]
Payload = Annotated[str, Field(max_length=256 * 1024 * 1024)]


class Loose(BaseModel):
    """Titan's servers ignored fields they did not know; so does jobq, for its clients."""

    model_config = ConfigDict(extra="ignore")


def statuses(succeeded: str, failed: str) -> dict[State, str]:
    return {
        State.scheduled: "delayed",
        State.queued: "queued",
        State.running: "running",
        State.succeeded: succeeded,
        State.failed: failed,
        State.cancelled: "cancelled",
    }


def spec(
    queue: str,
    owner: str | None,
    image: str | None,
    payload: str | None,
    delay: int,
    timeout: int,
    priority: int,
    max_retries: int,
    retries_delay: int,
) -> JobSpec:
    """The jobq job for a Titan NewJob: one attempt, the timeout as its lease."""
    return JobSpec(
        queue=queue,
        type=image or "default",
        payload=payload,
        priority=priority,
        delay=float(delay),
        lease_seconds=float(timeout),
        max_attempts=1,
        metadata=respawn.policy(max_retries, float(retries_delay)),
        owner=owner,
    )


def payload_text(job: Job) -> str:
    if isinstance(job.payload, str):
        return job.payload
    if job.payload is None:
        return ""
    return orjson.dumps(job.payload).decode()


def reason(job: Job) -> str | None:
    """Titan's reason: why a job failed or was cancelled."""
    if job.state == State.cancelled:
        return "client_request"
    if job.state != State.failed:
        return None
    return REASON_OF_CODE.get(str((job.error or {}).get("code")), "bad_exit")


def details(job: Job) -> str | None:
    error = job.error or {}
    text = error.get("details") if job.state == State.cancelled else error.get("message")
    if text is None or isinstance(text, str):
        return text
    return orjson.dumps(text).decode()


def job_fields(job: Job) -> dict[str, Any]:
    """The fields both versions render (a job enqueued elsewhere gets Titan's defaults)."""
    retries_delay = respawn.delay(job) if respawn.DELAY in job.metadata else RETRIES_DELAY
    return {
        "id": job.id,
        "image": job.type,
        "payload": payload_text(job),
        "delay": whole_seconds(job.run_at - job.created_at, 0),
        "timeout": whole_seconds(job.lease_seconds, 1),
        "priority": min(max(job.priority, 0), 2),
        "max_retries": min(respawn.remaining(job), MAX_RETRIES),
        "retries_delay": round(retries_delay),
        "reason": reason(job),
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "completed_at": iso(job.finished_at),
        "retry_of": job.retry_of,
    }


def whole_seconds(seconds: float, least: int) -> int:
    """Seconds as Titan's whole number, at least `least`, for any stored value (an infinity
    shows as the longest time any interface accepts, NaN as `least`)."""
    if math.isnan(seconds):
        return least
    return round(min(max(seconds, least), reserved.MAX_DELAY))


def failure_error(reason_name: str, text: str | None) -> dict[str, Any]:
    if reason_name not in FAILURE_REASONS:
        raise InvalidInput(
            f"reason must be one of {', '.join(FAILURE_REASONS)}", field="reason", value=reason_name
        )
    return {"code": reason_name, "message": text or reason_name, "details": None}


async def check_log(log: UploadFile | None) -> None:
    """Refuse an uploaded log a store cannot keep (InvalidInput) before the report it comes
    with changes anything (a report is all or nothing): read a piece at a time, then
    rewound for `store_log`."""
    if log is None:
        return
    while chunk := await log.read(UPLOAD_PIECE):
        fields.text(_text(chunk), "log", None)
    await log.seek(0)


async def store_log(engine: Engine, job_id: str, log: UploadFile | None) -> None:
    """Keep an uploaded log file as the job's log entries: read a piece at a time (cut at a
    line's end where one is near), each piece an entry, until the job's log limit stops
    keeping them."""
    if log is None:
        return
    pending = b""
    last = None
    while chunk := await log.read(UPLOAD_PIECE):
        piece, pending = _whole_lines(pending + chunk)
        if piece:
            stored = await engine.append_logs(job_id, [(None, "stdout", _text(piece))])
            if stored == last:
                return  # the log is full: the rest would be cut
            last = stored
    if pending:
        await engine.append_logs(job_id, [(None, "stdout", _text(pending))])


def _whole_lines(data: bytes) -> tuple[bytes, bytes]:
    """(what to store now, what to keep for the next piece): up to the last newline, or all
    of it when a line is longer than a piece."""
    end = data.rfind(b"\n") + 1
    if end == 0 and len(data) < UPLOAD_PIECE:
        return b"", data
    return (data, b"") if end == 0 else (data[:end], data[end:])


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


async def log_response(engine: Engine, job_id: str) -> Response:
    """The job's log as text/plain, streamed page by page: an uploaded file as it was, log
    lines one per line."""
    await engine.get(job_id)
    return StreamingResponse(_log_text(engine, job_id), media_type="text/plain; charset=utf-8")


async def _log_text(engine: Engine, job_id: str) -> AsyncIterator[bytes]:
    ended_line = True
    async for page in engine.log_pages(job_id):
        parts: list[str] = []
        for entry in page:
            if not ended_line:
                parts.append("\n")
            parts.append(entry.text)
            ended_line = entry.text.endswith("\n")
        yield "".join(parts).encode()


async def json_body(request: Request) -> Any:
    """The request body as JSON, None when empty (400 when it is not JSON)."""
    raw = await request.body()
    return read_json(raw) if raw.strip() else None


def text_body(raw: bytes, name: str) -> str | None:
    """A body that holds one string: a JSON string literal as its value, anything else as
    the text itself (Titan's generated clients send a string parameter unquoted, whatever
    the Content-Type says); None when empty. Not UTF-8, or too long: 400."""
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise InvalidInput(f"{name} is not UTF-8 text", field=name) from None
    if not text.strip():
        return None
    if text.lstrip().startswith('"'):
        value = read_json(raw)
        if isinstance(value, str):
            text = value
    if len(text) > fields.MESSAGE_MAX:
        raise InvalidInput(f"{name} is longer than {fields.MESSAGE_MAX} characters", field=name)
    return text


def set_fields(document: dict[str, Any]) -> dict[str, Any]:
    """Titan's servers left unset fields out; its generated clients read a null as the
    string "null" or an Invalid Date."""
    return {k: v for k, v in document.items() if v is not None}


def field_names(err: HttpError) -> str:
    fields = err.details.get("fields")
    if isinstance(fields, list):
        return ", ".join(str(f.get("field") or "body") for f in fields if isinstance(f, dict))
    return str(err.details.get("field") or "")


def titan_error(request: Request, err: HttpError) -> Response:
    """`{"error": {"message", "fields"}}`; invalid input is 400, as Titan answered it."""
    status = 400 if err.status == 422 else err.status
    message = err.message
    if err.code == "stale_lease":  # Titan runners hold no token: say it in their terms
        message = "the job is not running (it timed out, was cancelled or has finished)"
    body = {"error": {"message": message, "fields": field_names(err)}}
    headers = {"Retry-After": "1"} if status == 503 else None
    return JSONResponse(body, status_code=status, headers=headers)
