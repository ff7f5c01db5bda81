"""Posit Connect's wire shapes (seed 003) made from jobq's jobs: a translation table.

A content item (guid) is a jobq queue; a job's `key` is its id, its `id` its seq. Connect's
numeric content id has no jobq counterpart, so it is derived from the guid (stable, not
stored). Everything here is a pure function of a job (and the time, for `status`).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from jobq.api.http.disposition import stem
from jobq.model import Job, LogEntry
from jobq.render import iso
from jobq.states import TERMINAL, WAITING, State

LOG_CLOSE_SECONDS = 2.0
"""How long a finished job's log stays open for late lines: status 1 (finished) until then,
2 (finalized) after, and a tail closes at that moment."""

KILL_REGISTERED = "Order to kill job registered"
GUID = re.compile(r"^[A-Za-z0-9_.:@-]{1,200}$")  # a queue name that fits in one path segment
KEY = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
FILENAME = re.compile(r'^[^/\\"\x00-\x1f\x7f]{1,255}$')
DEFAULT_FILENAME = "rstudio-connect.{app_id}.{variant_id}.{bundle_id}.{job_tag}.{job_key}.log"

ACTIVE, FINISHED, FINALIZED = 0, 1, 2


def content_id(guid: str) -> int:
    """A stable positive 31-bit number for a content item (Connect's `app_id`)."""
    return int.from_bytes(hashlib.sha256(guid.encode()).digest()[:4], "big") >> 1


def status(job: Job, now: float) -> int:
    """0 active, 1 finished (its log still open), 2 finalized (its log closed)."""
    if job.state not in TERMINAL:
        return ACTIVE
    if job.finished_at is not None and now < job.finished_at + LOG_CLOSE_SECONDS:
        return FINISHED
    return FINALIZED


def finalized_at(job: Job) -> float | None:
    """When a finished job's log closes (None while it is active)."""
    if job.state not in TERMINAL:
        return None
    return (job.finished_at or job.updated_at) + LOG_CLOSE_SECONDS


def exit_code(job: Job) -> int | None:
    """Only once finished; a job that succeeded without reporting one exited 0."""
    if job.state not in TERMINAL:
        return None
    if job.exit_code is None and job.state == State.succeeded:
        return 0
    return job.exit_code


def job_item(job: Job, now: float) -> dict[str, Any]:
    worker = job.worker
    app_id = str(content_id(job.queue))
    waiting = job.state in WAITING
    return {
        "id": str(job.seq),
        "ppid": None,
        "pid": None if worker is None or worker.pid is None else str(worker.pid),
        "key": job.id,
        "remote_id": None,
        "app_id": app_id,
        "content_id": app_id,
        "content_guid": job.queue,
        "variant_id": variant_id(job),
        "bundle_id": bundle_id(job),
        "start_time": iso(job.started_at),
        "end_time": iso(job.finished_at),
        "last_heartbeat_time": iso(job.last_heartbeat_at or job.started_at),
        "queued_time": iso(job.created_at) if waiting else None,
        "queue_name": job.queue if waiting else None,
        "tag": job.type,
        "exit_code": exit_code(job),
        "status": status(job, now),
        "hostname": None if worker is None else worker.host,
        "cluster": None,
        "image": None,
        "run_as": None,
    }


def variant_id(job: Job) -> str:
    return job.metadata.get("variant_id", "0")


def bundle_id(job: Job) -> str:
    return job.metadata.get("bundle_id", "0")


def log_entry(entry: LogEntry) -> dict[str, Any]:
    """jobq's `system` lines (its own notes) are shown as stderr: Connect knows two streams."""
    source = "stdout" if entry.stream == "stdout" else "stderr"
    return {"source": source, "timestamp": iso(entry.time), "data": entry.text}


def log_line(entry: LogEntry) -> str:
    """One line of the downloaded log file."""
    item = log_entry(entry)
    return f"{item['timestamp']} [{item['source']}] {entry.text.rstrip(chr(10))}\n"


def logged_error(job: Job) -> dict[str, Any] | None:
    error = job.error
    if not error:
        return None
    body = {"code": str(error.get("code") or "error"), "summary": str(error.get("message") or "")}
    details = error.get("details")
    if isinstance(details, dict) and isinstance(details.get("help_url"), str):
        body["help_url"] = details["help_url"]
    return body


def kill_order(job: Job, order_id: str) -> dict[str, Any]:
    return {
        "guid": order_id,
        "app_id": content_id(job.queue),
        "app_guid": job.queue,
        "job_id": job.seq,
        "job_key": job.id,
        "result": KILL_REGISTERED,
    }


def default_filename(job: Job) -> str:
    """Connect's name for a job's log; the parts the job's creator chose (its metadata and
    type) are stems, so the name and its `.log` extension stay the server's."""
    return DEFAULT_FILENAME.format(
        app_id=content_id(job.queue),
        variant_id=stem(variant_id(job)),
        bundle_id=stem(bundle_id(job)),
        job_tag=stem(job.type),
        job_key=stem(job.id),
    )


def content_item(guid: str, first: Job | None) -> dict[str, Any]:
    """The few fields of a content item posit-sdk needs to reach its jobs."""
    return {
        "guid": guid,
        "name": guid,
        "title": guid,
        "description": "",
        "id": str(content_id(guid)),
        "owner_guid": None if first is None else first.owner,
        "created_time": None if first is None else iso(first.created_at),
        "app_mode": "unknown",
    }
