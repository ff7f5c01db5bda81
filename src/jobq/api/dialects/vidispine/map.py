"""Vidispine JobApi <-> jobq: states, priorities, and documents, as a translation table.

Documents are built as dicts with Vidispine's JSON keys; the XML renderer uses the same names
as element names (jobq.api.dialects.vidispine.xml). None values are left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from jobq.engine.listing import Key, Situation
from jobq.engine.problems import Problem
from jobq.errors import InvalidInput
from jobq.model import Job
from jobq.render import iso
from jobq.states import State

PRIORITIES = {"LOWEST": -2, "LOW": -1, "MEDIUM": 0, "HIGH": 1, "HIGHEST": 2, "IMMEDIATE": 3}
PRIORITY_NAMES = {v: k for k, v in PRIORITIES.items()}

JOB_STATES = (
    "READY",
    "STARTED",
    "WAITING",
    "HOLD",
    "FINISHED",
    "FINISHED_WARNING",
    "FAILED_TOTAL",
    "ABORTED_PENDING",
    "ABORTED",
    "VIDINET_JOB",
)
STATE_ALIASES = {"ABORT_PENDING": "ABORTED_PENDING"}
# which jobq states can show as each Vidispine state (the store filters on these first)
STORE_STATES: dict[str, tuple[State, ...]] = {
    "READY": (State.scheduled, State.queued),
    "WAITING": (State.scheduled, State.queued),
    "HOLD": (State.queued,),
    "STARTED": (State.running,),
    "ABORTED_PENDING": (State.running,),
    "FINISHED": (State.succeeded,),
    "FINISHED_WARNING": (State.succeeded,),
    "FAILED_TOTAL": (State.failed,),
    "ABORTED": (State.cancelled,),
    "VIDINET_JOB": (),
}
# a jobq state as Vidispine names it, where the state alone decides (conflict messages)
VIDISPINE_STATE = {
    "scheduled": "READY",
    "queued": "READY",
    "running": "STARTED",
    "succeeded": "FINISHED",
    "failed": "FAILED_TOTAL",
    "cancelled": "ABORTED",
}
STEP_STATUS = {
    State.scheduled: "READY",
    State.queued: "READY",
    State.running: "STARTED",
    State.succeeded: "FINISHED",
    State.failed: "FAILED_FATAL",
    State.cancelled: "NONE",
}
MAX_LISTED_STEPS = 1000


def priority_value(name: str) -> int:
    try:
        return PRIORITIES[name.strip().upper()]
    except KeyError:
        raise InvalidInput(
            f"unknown priority {name!r}; one of {', '.join(PRIORITIES)}",
            context="priority",
            value=name,
        ) from None


def priority_name(value: int) -> str:
    return PRIORITY_NAMES[min(max(value, -2), 3)]


def state_name(name: str) -> str:
    upper = name.strip().upper()
    upper = STATE_ALIASES.get(upper, upper)
    if upper not in JOB_STATES:
        raise InvalidInput(f"unknown job state {name!r}", context="state", value=name)
    return upper


@dataclass(slots=True)
class View:
    """The caller's rendering options (what a document holds beyond the job's own fields)."""

    metadata: bool = False
    fields: list[str] | None = None
    steps: bool = True


def status(s: Situation) -> str:
    """A job's Vidispine state: the job's own, and for a waiting job what holds it."""
    job = s.job
    if job.state in (State.scheduled, State.queued):
        if job.state == State.queued and s.paused:
            return "HOLD"
        return "WAITING" if s.held_by else "READY"
    if job.state == State.running:
        return "ABORTED_PENDING" if job.cancel_requested else "STARTED"
    if job.state == State.succeeded:
        return "FINISHED_WARNING" if _warned(job) else "FINISHED"
    return "FAILED_TOTAL" if job.state == State.failed else "ABORTED"


def _warned(job: Job) -> bool:
    return isinstance(job.result, dict) and bool(job.result.get("warnings"))


def wire_id(job: Job) -> str:
    """Vidispine ids are `PREFIX-number` (clients check the pattern): VX- and the job's seq."""
    return f"VX-{job.seq}"


def job_document(s: Situation, view: View) -> dict[str, Any]:
    job = s.job
    doc: dict[str, Any] = {
        "jobId": wire_id(job),
        "user": job.owner,
        "started": iso(job.created_at),
        "finished": iso(job.finished_at),
        "status": status(s),
        "type": job.queue,
        "priority": priority_name(job.priority),
    }
    doc.update(_steps(job, view))
    if view.metadata or view.fields is not None:
        doc["data"] = _data(job.metadata, view.fields)
    if doc["status"] == "WAITING":
        problem = s.held_by[0]
        doc["waiting"] = {
            "resourceType": problem.kind,
            "resourceId": f"VX-{problem_number(problem)}",
            "requirement": problem.message,
        }
    return {k: v for k, v in doc.items() if v is not None}


def id_document(s: Situation, view: View) -> dict[str, Any]:
    """`idonly`: the id and the fields every JobDocument must hold (Vidispine's schema makes
    status, type and priority required; the public client refuses a job without them)."""
    return {
        "jobId": wire_id(s.job),
        "status": status(s),
        "type": s.job.queue,
        "priority": priority_name(s.job.priority),
    }


def _data(metadata: dict[str, str], fields: list[str] | None) -> list[dict[str, str]]:
    keys = sorted(metadata) if fields is None else [k for k in fields if k in metadata]
    return [{"key": k, "value": metadata[k]} for k in keys]


def _steps(job: Job, view: View) -> dict[str, Any]:
    """currentStep and totalSteps from the worker's progress; the steps as log tasks."""
    progress = job.progress or {}
    total, step = progress.get("total"), progress.get("step")
    number = int(step) if isinstance(step, int | float) else 0
    current = {
        "number": number,
        "description": progress.get("description") or "",
        "status": _step_status(job),
    }
    out: dict[str, Any] = {
        "currentStep": current if job.progress else None,
        "totalSteps": int(total) if isinstance(total, int | float) else None,
    }
    if view.steps:
        out["log"] = {"task": _tasks(job, number, total, current)}
    return out


def _step_status(job: Job) -> str:
    if job.state == State.scheduled and job.error is not None:
        return "FAILED_RETRY"
    return STEP_STATUS[job.state]


def _tasks(job: Job, number: int, total: Any, current: dict[str, Any]) -> list[dict[str, Any]]:
    """Earlier steps (as finished) when there are few enough, then the current step."""
    if not job.progress:
        return []
    began = iso(job.started_at or job.created_at)
    earlier = range(1, number) if number <= MAX_LISTED_STEPS else range(0)
    tasks: list[dict[str, Any]] = [
        {"id": n, "step": n, "status": "FINISHED", "timestamp": began, "attempts": 1}
        for n in earlier
    ]
    task = {
        "id": number,
        "step": number,
        "status": current["status"],
        "description": current["description"] or None,
        "timestamp": iso(job.last_heartbeat_at or job.updated_at),
        "attempts": job.attempt,
        "errorMessage": (job.error or {}).get("message") or None,
        "progress": _percent(number, total),
    }
    tasks.append({k: v for k, v in task.items() if v is not None})
    return tasks


def _percent(number: int, total: Any) -> dict[str, Any] | None:
    if not isinstance(total, int | float) or total <= 0 or math.isnan(total):
        return None
    return {"value": round(min(number / total, 1.0) * 100, 1), "total": 100, "unit": "percent"}


def problem_number(problem: Problem) -> int:
    """Vidispine problem ids are integers: the digest part of jobq's stable id."""
    return int(problem.id.rpartition("-")[2], 16)


def problem_document(problem: Problem, seqs: dict[str, int]) -> dict[str, Any]:
    """`seqs` maps the ids of the problem's jobs to their seq (for their wire ids)."""
    data = {"message": problem.message, "queue": problem.queue, **problem.data}
    data["jobCount"] = str(problem.job_count)
    data["problem"] = problem.id
    return {
        "id": problem_number(problem),
        "type": problem.kind,
        "job": [f"VX-{seqs[i]}" for i in problem.jobs if i in seqs],
        "data": [{"key": k, "value": v} for k, v in data.items()],
    }


SORT_KEY: dict[str, Key] = {
    "jobId": lambda s: s.job.seq,
    "type": lambda s: s.job.queue,
    "state": status,
    "user": lambda s: s.job.owner or "",
    "startTime": lambda s: s.job.created_at,
    "priority": lambda s: s.job.priority,
}
SORT_KEYS = tuple(SORT_KEY)


def parse_sort(text: str) -> list[tuple[str, bool]]:
    """`field (asc|desc)[, ...]` -> [(field, descending)]."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, _, direction = part.partition(" ")
        direction = direction.strip().lower() or "asc"
        if name not in SORT_KEYS or direction not in ("asc", "desc"):
            raise InvalidInput(
                f"cannot sort by {part!r}: use `field asc|desc` with a field of "
                f"{', '.join(SORT_KEYS)}",
                context="sort",
                value=text,
            )
        out.append((name, direction == "desc"))
    return out
