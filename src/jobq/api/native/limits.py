"""Queue flow limits in the native API: `GET`, `PUT` and `DELETE /api/v1/queues/{name}/limits`.

Setting and removing limits takes the right to pause the queue (its owner, administrators);
reading them, the right to see the queue's numbers (any role on it), as `GET /stats/queues`.
The engine checks the values (jobq.engine.limits) and the store enforces them in each claim.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from jobq.api.http.context import engine_of
from jobq.api.http.responses import json
from jobq.api.http.security import guard_of
from jobq.api.native import schemas as s
from jobq.api.native.routes import ERRORS, limits_document
from jobq.auth.policy import Action
from jobq.engine import Engine
from jobq.engine.limits import MAX_CONCURRENCY
from jobq.fields import NAME_MAX, text
from jobq.model import JobQuery, QueueLimits, QueueSettings
from jobq.states import State

router = APIRouter()
LIMITS = {200: {"model": s.QueueLimitsOut}, **ERRORS}
# running jobs counted at most: more than any concurrency limit allows
RUNNING_CAP = MAX_CONCURRENCY + 1


async def _document(engine: Engine, name: str, settings: QueueSettings) -> dict[str, Any]:
    query = JobQuery(queues=[name], states=[State.running])
    running = await engine.count_jobs(query, RUNNING_CAP)
    return {
        "queue": name,
        **limits_document(settings.limits),
        "paused": settings.paused,
        "running": running,
    }


@router.get("/queues/{name}/limits", responses=LIMITS)
async def get_limits(request: Request, name: str) -> Response:
    """The queue's flow limits (null: none), whether it is paused, and how many of its jobs
    run now. Any role on the queue may read them."""
    guard = await guard_of(request)
    if not guard.sees_queue(name):
        guard.queue(name, Action.read)  # refused: no role there
    text(name, "queue", NAME_MAX)
    engine = engine_of(request)
    settings = await engine.queue_settings([name])
    return json(await _document(engine, name, settings.get(name, QueueSettings())))


@router.put("/queues/{name}/limits", responses=LIMITS)
async def set_limits(request: Request, name: str, body: s.QueueLimitsIn) -> Response:
    """Replace the queue's flow limits as a whole (a field null or absent: no such limit):
    at most `concurrency` of its jobs run at once, at most `rate` of them start in any
    `rate_period` seconds, at most `per_key` jobs of one concurrency key run at once (its
    keys then take turns, a key of `weights` its weight's worth of jobs a turn), and a job
    queued longer than `aging` seconds goes before newer
    jobs of any priority. In effect for the next claim, on every node and interface. Who
    may pause the queue may limit it."""
    weights = tuple(sorted((body.weights or {}).items()))
    limits = QueueLimits(
        body.concurrency, body.rate, body.rate_period, body.per_key, body.aging, weights
    )
    return await _set(request, name, limits)


@router.delete("/queues/{name}/limits", responses=LIMITS)
async def clear_limits(request: Request, name: str) -> Response:
    """Remove the queue's flow limits; answers as `GET` does, every limit null."""
    return await _set(request, name, QueueLimits())


async def _set(request: Request, name: str, limits: QueueLimits) -> Response:
    """Set the queue's limits as a whole."""
    (await guard_of(request)).queue(name, Action.administer)
    engine = engine_of(request)
    text(name, "queue", NAME_MAX)
    settings = await engine.set_limits(name, limits)
    return json(await _document(engine, name, settings))
