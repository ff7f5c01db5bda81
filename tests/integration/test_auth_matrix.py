"""Every native route x {no key, bad key, admin, owner, collaborator, viewer, worker,
stranger} x {own queue, other queue}, against a real app on a real PostgreSQL store here; the
same cases run on SQLite with every other interface's in test_access_matrix.py.

The expected status of each cell is derived from issue 6's words (the ROLE_MAY table in
tests/access.py), independently of jobq.auth.policy, so a mistake in either shows up.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx

from jobq.auth import service
from jobq.engine import JobSpec
from jobq.model import ClaimSpec, Operation, QueueLimits, Worker, new_id
from tests.access import BAD_KEY, PERSONAS, SCOPES, holder, role_of
from tests.access import expect_roles as expect
from tests.authkit import (
    Case,
    Cell,
    add_person,
    asgi_status,
    auth_store_of,
    bearer,
    route_set,
    run_matrix,
    running_app,
)

QUEUES = {"own": "q-own", "other": "q-other"}
OWNERS = {"own": "owner", "other": "other"}


def token(c: Cell) -> dict[str, Any]:
    return {"token": c.token}


def listed_job(c: Cell, r: httpx.Response) -> bool:
    return any(j["queue"] == c.queue for j in r.json()["jobs"])


def ids(c: Cell) -> dict[str, Any]:
    return {"ids": [c.job_id]}


def listed_queue(c: Cell, r: httpx.Response) -> bool:
    return any(q["name"] == c.queue for q in r.json()["queues"])


def listed_problem(c: Cell, r: httpx.Response) -> bool:
    return any(p["queue"] == c.queue for p in r.json()["problems"])


def listed_throughput(c: Cell, r: httpx.Response) -> bool:
    return c.queue in r.json()["queues"]


def listed_worker(c: Cell, r: httpx.Response) -> bool:
    return any(w["name"] == f"w-{c.queue}" for w in r.json()["workers"])


CASES = [
    Case("POST", "/jobs", "queue", "enqueue", None, 201, lambda c: {"queue": c.queue}),
    Case("GET", "/jobs?queue={queue}&sort=-created_at", "list", "read", "queued",
         visible=listed_job),
    Case("GET", "/jobs?sort=-created_at&limit=1000", "list", "read", "queued",
         visible=listed_job),
    Case("DELETE", "/jobs?ids={job_id}", "batch", "manage", "succeeded"),
    Case("GET", "/jobs/{job_id}", "job", "read", "queued"),
    Case("PATCH", "/jobs/{job_id}", "job", "manage", "queued", body=lambda c: {"priority": 3}),
    Case("DELETE", "/jobs/{job_id}", "job", "manage", "succeeded", 204),
    Case("POST", "/jobs/{job_id}/cancel", "job", "manage", "queued"),
    Case("POST", "/jobs/{job_id}/retry", "job", "manage", "succeeded", 201),
    Case("POST", "/jobs/{job_id}/run", "job", "manage", "scheduled"),
    Case("GET", "/jobs/{job_id}/attempts", "job", "read", "succeeded"),
    Case("POST", "/claim", "queue", "work", "queued",
         body=lambda c: {"queues": [c.queue], "worker": {"name": "matrix"}}),
    Case("POST", "/jobs/{job_id}/heartbeat", "job", "work", "running", body=token),
    Case("POST", "/jobs/{job_id}/complete", "job", "work", "running", body=token),
    Case("POST", "/jobs/{job_id}/fail", "job", "work", "running", body=token),
    Case("POST", "/jobs/{job_id}/release", "job", "work", "running", body=token),
    Case("POST", "/jobs/{job_id}/snooze", "job", "work", "running",
         body=lambda c: {**token(c), "seconds": 30}),
    Case("POST", "/ack", "batch", "work", "running",
         body=lambda c: {"acks": [{"id": c.job_id, "token": c.token}]}),
    Case("POST", "/jobs/{job_id}/logs", "job", "work", "running", 201,
         body=lambda c: {"entries": [{"text": "hello"}]}),
    Case("POST", "/jobs/{job_id}/logs", "job", "work", "running", 201,
         body=lambda c: {"entries": [{"text": "hello"}]}, held_by="other"),
    Case("GET", "/jobs/{job_id}/logs", "job", "read_logs", "running"),
    Case("GET", "/jobs/{job_id}/logs/stream", "job", "read_logs", "succeeded", stream=True),
    Case("GET", "/jobs/{job_id}/log.txt", "job", "read_logs", "succeeded"),
    Case("GET", "/queues", "list", visible=listed_queue),
    Case("POST", "/queues/{queue}/pause", "queue", "administer"),
    Case("POST", "/queues/{queue}/resume", "queue", "administer"),
    Case("GET", "/events", "any", stream=True),
    Case("GET", "/problems", "list", state="queued", visible=listed_problem),
    Case("GET", "/problems/none", "any", ok=404),
    Case("GET", "/workers", "list", visible=listed_worker),
    Case("GET", "/stats/throughput", "list", state="succeeded", visible=listed_throughput),
    Case("GET", "/stats/queues", "list", state="queued", visible=listed_queue),
    Case("GET", "/healthz", "any"),
    Case("GET", "/readyz", "any"),
    Case("GET", "/me", "any"),
    Case("GET", "/users", "admin"),
    Case("POST", "/users", "admin", ok=201, body=lambda c: {"name": c.vars["new_user"]}),
    Case("GET", "/keys", "admin"),
    Case("POST", "/keys", "admin", ok=201, body=lambda c: {"user": "extra"}),
    Case("DELETE", "/keys/{key_id}", "admin", ok=204),
    Case("PUT", "/queues/{queue}/owner", "admin", body=lambda c: {"user": c.vars["owner"]}),
    Case("GET", "/queues/{queue}/grants", "queue", "administer"),
    Case("PUT", "/queues/{queue}/grants/extra", "queue", "administer",
         body=lambda c: {"role": "viewer"}),
    Case("DELETE", "/queues/{queue}/grants/extra", "queue", "administer", ok=204),
    Case("POST", "/jobs/bulk/retry", "batch", "manage", "succeeded", body=ids),
    Case("POST", "/jobs/bulk/cancel", "batch", "manage", "queued", body=ids),
    Case("POST", "/jobs/bulk/delete", "batch", "manage", "succeeded", body=ids),
    Case("POST", "/jobs/bulk/retry", "queue", "manage", "succeeded", 202,
         body=lambda c: {"filter": {"queues": [c.queue]}}),
    Case("POST", "/jobs/bulk/cancel", "queue", "manage", "queued", 200,
         body=lambda c: {"filter": {"queues": [c.queue]}, "dry_run": True}),
    Case("GET", "/operations", "list"),
    Case("GET", "/operations/{op_id}", "any"),
    Case("POST", "/operations/{op_id}/cancel", "any"),
    Case("POST", "/queues/{queue}/purge", "queue", "administer", ok=202),
    # the queue holds the cell's job: refused (409) without with_jobs, once allowed
    Case("DELETE", "/queues/{queue}", "queue", "administer", "queued", 409),
    # flow limits: read with any role on the queue, set and removed by who may pause it
    Case("GET", "/queues/{queue}/limits", "seen"),
    Case("PUT", "/queues/{queue}/limits", "queue", "administer",
         body=lambda c: {"concurrency": 1000}),
    Case("DELETE", "/queues/{queue}/limits", "queue", "administer"),
]  # fmt: skip
TEMPLATES = {  # the route each case's path exercises
    "/jobs?queue={queue}&sort=-created_at": "/jobs",
    "/jobs?ids={job_id}": "/jobs",
    "/jobs?sort=-created_at&limit=1000": "/jobs",
    "/queues/{queue}/pause": "/queues/{name}/pause",
    "/queues/{queue}/resume": "/queues/{name}/resume",
    "/queues/{queue}/owner": "/queues/{name}/owner",
    "/queues/{queue}/grants": "/queues/{name}/grants",
    "/queues/{queue}/grants/extra": "/queues/{name}/grants/{user}",
    "/problems/none": "/problems/{problem_id}",
    "/jobs/bulk/retry": "/jobs/bulk/{action}",
    "/jobs/bulk/cancel": "/jobs/bulk/{action}",
    "/jobs/bulk/delete": "/jobs/bulk/{action}",
    "/queues/{queue}/purge": "/queues/{name}/purge",
    "/queues/{queue}": "/queues/{name}",
    "/queues/{queue}/limits": "/queues/{name}/limits",
}


class Native:
    """Prepares each cell's fixture through the engine and sends its request."""

    def __init__(self, app: Any, client: httpx.AsyncClient, keys: dict[str, str | None]) -> None:
        self.app = app
        self.client = client
        self.keys = keys
        self.engine = app.state.engine
        self.count = 0

    async def prepare(self, c: Cell) -> None:
        self.count += 1
        kind = f"t{self.count}"
        c.vars = {"queue": c.queue, "new_user": f"new{self.count}", "owner": OWNERS[c.scope]}
        if c.case.state is not None:
            later = time.time() + 3600 if c.case.state == "scheduled" else None
            [(job, _)] = await self.engine.enqueue(
                [JobSpec(queue=c.queue, type=kind, run_at=later)]
            )
            c.job_id = job.id
        if c.case.state in ("running", "succeeded"):
            spec = ClaimSpec([c.queue], [kind], 1, None, Worker(f"w-{c.queue}", user=holder(c)))
            [job] = await self.engine.claim(spec)
            c.token = job.lease_token
        if c.case.state == "succeeded":
            await self.engine.complete(c.job_id, c.token, None)
        store = auth_store_of(self.app)
        if c.case.path.endswith("{key_id}"):
            record, _ = await service.create_key(store, "extra", "doomed", time.time())
            c.vars["key_id"] = record.id
        if c.case.method == "DELETE" and c.case.path.endswith("/grants/extra"):
            await service.grant(store, c.queue, "extra", "viewer", time.time())
        if c.case.path == "/problems":
            await self.engine.pause(c.queue)  # a paused queue holding a job: a problem
        if "{op_id}" in c.case.path:
            c.vars["op_id"] = await operation_of(self.engine, c)
        c.vars["job_id"] = c.job_id

    async def send(self, c: Cell) -> tuple[int, bool]:
        url = "/api/v1" + c.case.path.format(**c.vars)
        headers = bearer(self.keys[c.persona])
        try:
            if c.case.stream:
                return await asgi_status(self.app, c.case.method, url, headers), False
            body = c.case.body(c) if c.case.body else None
            r = await self.client.request(c.case.method, url, json=body, headers=headers)
            return self.read(c, r)
        finally:
            await self.engine.resume(c.queue)  # undo a pause cell
            if c.case.path.endswith("/limits"):
                await self.engine.set_limits(c.queue, QueueLimits())  # and a limit
            for task in list(self.engine.runner.tasks.values()):  # operations it began end
                await asyncio.gather(task, return_exceptions=True)

    @staticmethod
    def read(c: Cell, r: httpx.Response) -> tuple[int, bool]:
        if c.case.kind == "batch" and r.status_code == 200:
            item = r.json()["results"][0]
            code = item.get("error", {}).get("code")
            return {None: 200, "not_found": 404, "forbidden": 403}.get(code, 500), False
        if c.case.visible is not None and r.status_code == 200:
            may_see = c.persona == "admin" or role_of(c.persona, c.scope) is not None
            if c.case.path.startswith("/jobs"):
                may_see = c.persona == "admin" or role_of(c.persona, c.scope) in (
                    "owner", "collaborator", "viewer",
                )  # fmt: skip
            shown = c.case.visible(c, r)
            if may_see and not shown:
                return -1, False  # hidden from someone who may see it: wrong, not a leak
            return r.status_code, shown and not may_see
        return r.status_code, False


async def operation_of(engine: Any, c: Cell) -> str:
    """An operation of the cell's persona (its own, which it may read and cancel): running,
    for a cancel, leased to nobody that runs it; else done."""
    now = time.time()
    running = c.case.path.endswith("/cancel")
    op = Operation(
        id=new_id(now), action="retry", selection={}, queues=[], owner=holder(c), upto_seq=0,
        state="running" if running else "done", created_at=now, updated_at=now,
        lease_token="matrix" if running else None, lease_until=now + 3600 if running else None,
    )  # fmt: skip
    await engine.operation_store.create(op)
    return op.id


async def setup(app: Any) -> dict[str, str | None]:
    store = auth_store_of(app)
    keys: dict[str, str | None] = {"no key": None, "bad key": BAD_KEY}
    keys["admin"] = await add_person(store, "admin", admin=True)
    for name in ("owner", "collaborator", "viewer", "worker", "stranger", "other", "extra"):
        keys[name] = await add_person(store, name)
    now = time.time()
    await store.set_queue_owner("q-own", "owner", now)
    await store.set_queue_owner("q-other", "other", now)
    for role in ("collaborator", "viewer", "worker"):
        await service.grant(store, "q-own", role, role, now)
    return keys


async def test_native_access_matrix_on_postgres(tmp_path: Path, pg_url: str) -> None:
    """The native matrix on the PostgreSQL store (on SQLite it runs within every interface's
    matrix, tests/integration/test_access_matrix.py)."""
    async with running_app(tmp_path, db=pg_url, auth_fail_limit=100_000) as (app, client):
        keys = await setup(app)
        covered = {(c.method, TEMPLATES.get(c.path, c.path)) for c in CASES}
        assert route_set(app, "/api/v1") == covered, "every native route has a matrix case"
        native = Native(app, client, keys)
        outcomes = await run_matrix(
            CASES, PERSONAS, SCOPES, expect, native.prepare, native.send, QUEUES.__getitem__
        )
    wrong = [o for o in outcomes if o.got != o.expected or o.leaked]
    granted = [o for o in outcomes if o.wrongly_granted]
    print(f"\naccess matrix: {len(outcomes)} cells checked, {len(wrong)} wrong, "
          f"{len(granted)} granted that should not be")  # fmt: skip
    assert len(outcomes) == len(CASES) * len(PERSONAS) * len(SCOPES)
    assert not granted, [(o.cell.case.method, o.cell.case.path, o.cell.persona, o.cell.scope,
                          o.expected, o.got) for o in granted]  # fmt: skip
    assert not wrong, [(o.cell.case.method, o.cell.case.path, o.cell.persona, o.cell.scope,
                        o.expected, o.got, o.leaked) for o in wrong]  # fmt: skip
