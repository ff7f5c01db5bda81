"""The native API's bulk work: many jobs retried, cancelled or deleted in one request, the
operations that do it by filter, and queues purged and deleted.

    POST   /jobs/bulk/{retry|cancel|delete}   {"ids": [...]}: each job at once (200)
                                              {"filter": {...}}: an operation (202)
                                              {"filter": {...}, "dry_run": true}: a count
    GET    /operations, /operations/{id}      progress: matched, done, failed, state
    POST   /operations/{id}/cancel            stop after the current batch
    POST   /queues/{name}/purge               delete the queue's waiting jobs (an operation)
    DELETE /queues/{name}[?with_jobs=true]    forget an empty queue (204), or delete its
                                              jobs first (an operation, 202)

Rights are the single-job routes': ids by rule B (each refused id says why), a filter acts
on the queues the caller may manage (naming one it may not is 403, rule Q), queues need the
administer role (their owner, or an administrator). See docs/design.md, "Bulk work".
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from jobq.api.http.context import engine_of
from jobq.api.http.responses import json
from jobq.api.http.security import guard_of
from jobq.api.native import schemas as s
from jobq.auth.guard import Guard
from jobq.auth.policy import Action
from jobq.engine import Engine
from jobq.engine.selection import Selection
from jobq.errors import Conflict, InvalidInput, JobqError, NotFound
from jobq.model import Job, Operation
from jobq.render import iso, job_document
from jobq.states import TERMINAL, State

router = APIRouter()
ERRORS: dict[int | str, dict[str, Any]] = {
    c: {"model": s.ErrorOut} for c in (400, 401, 403, 404, 409, 413, 422, 429, 503)
}
COUNT_CAP = 100_000  # a dry run counts at most this many (its cost follows the cap)
Action_ = Literal["retry", "cancel", "delete"]


@router.post(
    "/jobs/bulk/{action}",
    responses={200: {"description": "per id, or a count"}, 202: {}, **ERRORS},
)
async def bulk(request: Request, action: Action_, body: s.BulkIn) -> Response:
    """Retry, cancel or delete many jobs. `ids` (at most 1,000): each is done at once and
    answered in `results`, in order (a refused id carries its error). `filter`: an operation
    over every matching job made before now, in the queues the caller may manage, run in the
    background in batches (202, the operation; follow it at `Location`). With `dry_run`, how
    many jobs the filter matches now (counted up to 100,000: `capped`)."""
    guard = await guard_of(request)
    engine = engine_of(request)
    if body.ids is not None:
        return json({"results": await _each(engine, guard, action, body)})
    assert body.filter is not None
    selection = selection_of(body.filter)
    queues = acting_queues(guard, selection)
    if body.dry_run:
        matched = await engine.count_matching(action, selection, queues, COUNT_CAP)
        return json({"action": action, "matched": matched, "capped": matched >= COUNT_CAP})
    op = await engine.begin(action, selection, queues, guard.principal.user, body.reason)
    return accepted(request, op)


async def _each(engine: Engine, guard: Guard, action: str, body: s.BulkIn) -> list[dict[str, Any]]:
    """One result per id, in order: refused by rights, or what the engine did."""
    assert body.ids is not None
    ids = body.ids
    refused = await guard.jobs(ids, Action.manage)
    allowed = [i for i in ids if i not in refused]
    done: list[Job | JobqError | State | None]
    if action == "retry":
        done = list(await engine.retry_each(allowed))
    elif action == "cancel":
        done = list(await engine.cancel_each(allowed, body.reason, body.details))
    else:
        done = list(await engine.delete(allowed))
    outcomes = iter(done)
    return [
        _item(i, refused[i]) if i in refused else _item(i, next(outcomes), deleting=action)
        for i in ids
    ]


def _item(job_id: str, outcome: Any, deleting: str = "") -> dict[str, Any]:
    if deleting == "delete":
        outcome = _deleted(job_id, outcome)
    if isinstance(outcome, JobqError):
        error = {"code": outcome.code, "message": outcome.message, "details": outcome.details}
        return {"id": job_id, "ok": False, "error": error}
    if isinstance(outcome, Job):
        return {"id": job_id, "ok": True, "job": job_document(outcome)}
    return {"id": job_id, "ok": True}


def _deleted(job_id: str, state: State | None) -> JobqError | None:
    if state is None:
        return NotFound("job not found", id=job_id)
    if state not in TERMINAL:
        return Conflict(
            f"only finished jobs can be deleted; this one is {state}", state=str(state), id=job_id
        )
    return None


def selection_of(body: s.SelectionIn) -> Selection:
    try:
        states = None if body.states is None else [State(n) for n in body.states]
    except ValueError:
        raise InvalidInput(
            "unknown state", state=body.states, allowed=[str(st) for st in State]
        ) from None
    times = {name: _seconds(getattr(body, name)) for name in TIME_FIELDS}
    return Selection(body.queues, body.types, states, dict(body.metadata), **times)


TIME_FIELDS = tuple(
    f"{moment}_{side}"
    for moment in ("created", "started", "finished")
    for side in ("after", "before")
)


def _seconds(t: datetime | None) -> float | None:
    return None if t is None else t.timestamp()


def acting_queues(guard: Guard, selection: Selection) -> list[str] | None:
    """The queues an operation may act on: those the filter names (403 for one the caller
    may not manage), else every queue the caller may manage (None: every queue, for an
    administrator)."""
    if selection.queues is not None:
        guard.queues(selection.queues, Action.manage)
        return None if guard.unrestricted else sorted(set(selection.queues))
    return guard.queues_for(Action.manage)


def accepted(request: Request, op: Operation) -> Response:
    where = f"{_prefix(request)}/operations/{op.id}"
    return json(operation_document(op), 202, headers={"Location": where})


def _prefix(request: Request) -> str:
    """Where this interface is mounted (the path before /jobs or /queues)."""
    path = request.url.path
    for part in ("/jobs/bulk/", "/queues/"):
        if part in path:
            return path[: path.index(part)]
    return ""


def operation_document(op: Operation) -> dict[str, Any]:
    return {
        "id": op.id,
        "action": op.action,
        "state": op.state,
        "filter": op.selection,
        "matched": op.matched,
        "done": op.done,
        "failed": op.failed,
        "errors": op.errors,
        "message": op.message,
        "owner": op.owner,
        "created_at": iso(op.created_at),
        "updated_at": iso(op.updated_at),
        "finished_at": iso(op.finished_at),
    }


# --- operations ---


@router.get("/operations", responses=ERRORS)
async def list_operations(
    request: Request, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> Response:
    """The caller's operations, newest first (an administrator's: everyone's)."""
    guard = await guard_of(request)
    owner = None if guard.unrestricted else guard.principal.user
    ops = await engine_of(request).operations(owner, limit)
    return json({"operations": [operation_document(op) for op in ops]})


@router.get("/operations/{op_id}", responses=ERRORS)
async def get_operation(request: Request, op_id: str) -> Response:
    """An operation's progress: `matched` jobs so far, `done`, `failed` (the first failures
    in `errors`), and `state`: running, done, failed, cancelled."""
    return json(operation_document(await _visible(request, op_id)))


@router.post("/operations/{op_id}/cancel", responses=ERRORS)
async def cancel_operation(request: Request, op_id: str) -> Response:
    """Stop a running operation after its current batch; what it did stays done."""
    await _visible(request, op_id)
    return json(operation_document(await engine_of(request).cancel_operation(op_id)))


async def _visible(request: Request, op_id: str) -> Operation:
    """The operation, for the user who began it or an administrator (else: not found)."""
    guard = await guard_of(request)
    op = await engine_of(request).operation(op_id)
    if not guard.unrestricted and op.owner != guard.principal.user:
        raise NotFound("operation not found", id=op_id)
    return op


# --- queues ---


@router.post("/queues/{name}/purge", status_code=202, responses={202: {}, **ERRORS})
async def purge_queue(request: Request, name: str) -> Response:
    """Delete every waiting job (scheduled, queued) of the queue: an operation (202)."""
    guard = await guard_of(request)
    guard.queue(name, Action.administer)
    op = await engine_of(request).clear_queue(name, guard.principal.user, drop=False)
    return accepted(request, op)


@router.delete("/queues/{name}", status_code=204, responses={202: {}, 204: {}, **ERRORS})
async def delete_queue(request: Request, name: str, with_jobs: bool = False) -> Response:
    """Delete a queue: its name, paused flag, owner and grants. A queue that holds no job
    goes at once (204). One that holds jobs is refused (409) unless `with_jobs=true`: it is
    paused, its jobs that are not running are deleted by an operation (202), and then the
    queue goes (the operation fails, and the queue stays, if some of its jobs still run)."""
    guard = await guard_of(request)
    guard.queue(name, Action.administer)
    engine = engine_of(request)
    if await engine.drop_queue(name):
        return Response(status_code=204)
    if not with_jobs:
        raise Conflict(
            f"queue {name} holds jobs: delete it with_jobs=true to delete them too",
            queue=name,
        )
    return accepted(request, await engine.clear_queue(name, guard.principal.user, drop=True))
