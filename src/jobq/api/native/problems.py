"""Problems in the native API: GET /api/v1/problems and GET /api/v1/problems/{id}."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from jobq.api.http.responses import json
from jobq.api.http.security import guard_of
from jobq.api.native.routes import ERRORS
from jobq.engine import Engine
from jobq.engine.problems import Problem, outline
from jobq.errors import NotFound

router = APIRouter()


def problem_document(problem: Problem) -> dict[str, Any]:
    return {
        "id": problem.id,
        "kind": problem.kind,
        "queue": problem.queue,
        "type": problem.type,
        "message": problem.message,
        "jobs": problem.jobs,
        "job_count": problem.job_count,
        "data": problem.data,
    }


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def visible_problems(request: Request) -> list[Problem]:
    """The problems of the queues the caller holds a role on (all of them for admins; only
    those queues are read), each showing only what the caller may read elsewhere: job ids
    and error texts to those who may read the queue's jobs, an outline (kind, where, how
    many) to the others."""
    guard = await guard_of(request)
    problems = await _engine(request).problems(guard.visible_queues())
    if guard.unrestricted:
        return problems
    return [p if guard.may_read(p.queue) else outline(p) for p in problems]


@router.get("/problems", responses=ERRORS)
async def list_problems(request: Request) -> Response:
    """Why jobs cannot go on now: paused queues, queues at their concurrency limit, queues
    or types no worker takes, attempts failing again and again, deadlines about to pass;
    each with the jobs it holds. An id stays the same while its cause lasts; a problem
    disappears once its cause is gone. Only the problems of queues the caller holds a role
    on are listed."""
    problems = await visible_problems(request)
    return json({"problems": [problem_document(p) for p in problems]})


@router.get("/problems/{problem_id}", responses=ERRORS)
async def get_problem(request: Request, problem_id: str) -> Response:
    """One problem; 404 once it has resolved (or never existed, or is not the caller's)."""
    for problem in await visible_problems(request):
        if problem.id == problem_id:
            return json(problem_document(problem))
    raise NotFound("no such problem (it may have resolved)", id=problem_id)
