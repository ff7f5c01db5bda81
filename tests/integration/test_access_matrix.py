"""Every route of every mounted interface x {no key, bad key, admin, owner, collaborator,
viewer, worker, stranger} x {own queue, other queue}, on a real app over a real SQLite store.

Expected statuses come from issue 6's words (tests/access.py), not from jobq.auth.policy.
To add an interface, add its case list and a `Surface` to SURFACES (its own credentials
function, and its own `expect` if its rules differ).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from jobq.api import app as app_module
from jobq.api.dialects import accepted
from jobq.api.dialects.connect import routes as connect
from jobq.api.dialects.titan import v02 as titan02
from jobq.api.dialects.titan import v03 as titan03
from jobq.api.dialects.vidispine import routes as vidispine
from tests.access import (
    PERSONAS,
    SCOPES,
    Surface,
    World,
    basic_of,
    check_coverage,
    connect_key_of,
    expect_connect,
    report,
    run_surface,
)
from tests.authkit import Case, Outcome, route_set, run_matrix, running_app
from tests.integration import test_auth_matrix as native_matrix


def titan_jobs(queue: str | None) -> Any:
    def shown(r: httpx.Response) -> list[tuple[str, str]]:
        return [(queue or j["group_name"], j["id"]) for j in r.json()["jobs"]]

    return shown


def accepted_job(r: httpx.Response) -> list[tuple[str, str]]:
    return [(r.json()["queue"], r.json()["id"])]


def one_titan_job(c: Any) -> dict[str, Any]:
    return {"jobs": [{"image": "matrix", "priority": 0}]}


LOG = {"log": ("log.txt", b"a line\n", "text/plain")}

TITAN02 = [
    Case("POST", "/jobs", "queue", "enqueue", None, 201, one_titan_job),
    Case("GET", "/jobs?n=1000", "list", "read", "queued", shown=titan_jobs("default"),
         must_show=True),
    Case("GET", "/jobs/consume?n=1000", "queue", "work", "queued"),
    Case("GET", "/job/{job_id}", "job", "read", "queued", template="/job/{id}"),
    Case("DELETE", "/job/{job_id}", "job", "manage", "succeeded", template="/job/{id}"),
    Case("POST", "/job/{job_id}/cancel", "job", "manage", "queued", template="/job/{id}/cancel"),
    Case("POST", "/job/{job_id}/fail", "job", "work", "running", template="/job/{id}/fail",
         body=lambda c: {"reason": "killed"}, content="form"),
    Case("POST", "/job/{job_id}/success", "job", "work", "running",
         template="/job/{id}/success", body=lambda c: LOG, content="files"),
    Case("POST", "/job/{job_id}/retry", "job", "manage", "succeeded", template="/job/{id}/retry"),
    Case("POST", "/job/{job_id}/touch", "job", "work", "running", template="/job/{id}/touch"),
    Case("GET", "/job/{job_id}/log", "job", "read_logs", "succeeded", template="/job/{id}/log"),
    # the lease holder: reports without a token, on a job another user's runner claimed
    Case("POST", "/job/{job_id}/fail", "job", "work", "running", template="/job/{id}/fail",
         body=lambda c: {"reason": "killed"}, content="form", held_by="other"),
    Case("POST", "/job/{job_id}/success", "job", "work", "running",
         template="/job/{id}/success", body=lambda c: LOG, content="files", held_by="other"),
    Case("POST", "/job/{job_id}/touch", "job", "work", "running", template="/job/{id}/touch",
         held_by="other"),
]  # fmt: skip

GROUP, JOB = "/groups/{group_name}/jobs", "/groups/{group_name}/jobs/{id}"
T3 = "/groups/{queue}/jobs/{job_id}"
TITAN03 = [
    Case("POST", "/groups/{queue}/jobs", "queue", "enqueue", None, 201, one_titan_job,
         template=GROUP),
    Case("GET", "/groups/{queue}/jobs?n=1000", "list", "read", "queued", shown=titan_jobs(None),
         must_show=True, template=GROUP),
    Case("GET", "/jobs?n=1000", "list", "work", "queued", shown=titan_jobs(None),
         must_show=True),
    Case("GET", T3, "job", "read", "queued", template=JOB),
    Case("DELETE", T3, "job", "manage", "succeeded", template=JOB),
    Case("POST", T3 + "/cancel", "job", "manage", "queued", template=JOB + "/cancel"),
    Case("POST", T3 + "/start", "job", "work", "queued", template=JOB + "/start"),
    Case("POST", T3 + "/success", "job", "work", "running", template=JOB + "/success"),
    Case("POST", T3 + "/error", "job", "work", "running", template=JOB + "/error",
         body=lambda c: {"reason": "bad_exit"}),
    Case("POST", T3 + "/touch", "job", "work", "running", template=JOB + "/touch"),
    Case("POST", T3 + "/retry", "job", "manage", "succeeded", template=JOB + "/retry"),
    Case("POST", T3 + "/log", "job", "work", "succeeded", 201, body=lambda c: LOG,
         content="files", template=JOB + "/log"),
    Case("GET", T3 + "/log", "job", "read_logs", "succeeded", template=JOB + "/log"),
    # the lease holder: reports without a token, on a job another user's runner claimed
    Case("POST", T3 + "/start", "job", "work", "running", template=JOB + "/start",
         held_by="other"),
    Case("POST", T3 + "/success", "job", "work", "running", template=JOB + "/success",
         held_by="other"),
    Case("POST", T3 + "/error", "job", "work", "running", template=JOB + "/error",
         body=lambda c: {"reason": "bad_exit"}, held_by="other"),
    Case("POST", T3 + "/touch", "job", "work", "running", template=JOB + "/touch",
         held_by="other"),
    Case("POST", T3 + "/log", "job", "work", "succeeded", 201, body=lambda c: LOG,
         content="files", template=JOB + "/log", held_by="other"),
]  # fmt: skip

ACCEPTED = [
    Case("POST", "/jobs", "queue", "enqueue", None, 202, lambda c: {"queue": c.queue}),
    Case("GET", "/jobs/{job_id}", "job", "read", "queued", template="/jobs/{uuid}"),
    Case("PUT", "/jobs/{job_id}", "job", "work", "running", template="/jobs/{uuid}",
         body=lambda c: {"status": "done", "result": 1}),
    Case("DELETE", "/jobs/{job_id}", "job", "manage", "queued", template="/jobs/{uuid}"),
    Case("POST", "/want_job?queue={queue}", "queue", "work", "queued"),
    Case("POST", "/want_job", "list", "work", "queued", shown=accepted_job),
    Case("PUT", "/jobs/{job_id}", "job", "work", "running", template="/jobs/{uuid}",
         body=lambda c: {"status": "running", "result": 1}, held_by="other"),
    Case("PUT", "/jobs/{job_id}", "job", "work", "running", template="/jobs/{uuid}",
         body=lambda c: {"status": "failed", "result": 1}, held_by="other"),
]  # fmt: skip

C = "/v1/content/{queue}/jobs/{job_id}"
CJ = "/v1/content/{guid}/jobs/{key}"
CONNECT = [
    Case("GET", "/server_settings", "any"),
    Case("GET", "/v1/content/{queue}", "content", "read", "queued",
         template="/v1/content/{guid}"),
    Case("GET", "/v1/content/{queue}/jobs", "content", "read", "queued",
         template="/v1/content/{guid}/jobs"),
    Case("GET", C, "job", "read", "queued", template=CJ),
    Case("DELETE", C, "job", "kill", "queued", template=CJ),
    Case("GET", C + "/log", "job", "read", "succeeded", template=CJ + "/log"),
    Case("GET", C + "/tail", "job", "read", "succeeded", stream=True, template=CJ + "/tail"),
    Case("GET", C + "/download", "job", "read", "succeeded", template=CJ + "/download"),
    Case("GET", C + "/error", "job", "read", "succeeded", 204, template=CJ + "/error"),
]  # fmt: skip


def vidispine_of(persona: str, key: str | None) -> dict[str, str]:
    """HTTP basic, and JSON answers (Vidispine speaks XML unless asked)."""
    return {**basic_of(persona, key), "Accept": "application/json"}


def vidispine_jobs(r: httpx.Response) -> list[tuple[str, str]]:
    return [(j["type"], j["jobId"]) for j in r.json().get("job", [])]


V = "/job/{job_id}"
VIDISPINE = [
    Case("GET", "/job/problem", "list", "read", "queued"),
    Case("GET", V + "/problem", "job", "read", "queued", template="/job/{job_id}/problem"),
    Case("GET", V, "job", "read", "queued", template="/job/{job_id}"),
    Case("GET", "/job?number=1000", "list", "read", "queued", shown=vidispine_jobs,
         must_show=False),
    Case("POST", "/job?type={queue}", "queue", "enqueue", None, 200),
    Case("POST", V + "/re-run", "job", "manage", "succeeded", template="/job/{job_id}/re-run"),
    Case("PUT", V + "?priority=HIGH", "job", "manage", "queued", template="/job/{job_id}"),
    Case("DELETE", V, "job", "manage", "queued", template="/job/{job_id}"),
    Case("DELETE", "/job?id={job_id}", "sweep", "manage", "succeeded"),
    Case("GET", "/jobtype", "any"),
]  # fmt: skip

SURFACES = [
    Surface(titan03.NAME, titan03.PREFIX, TITAN03),
    Surface(accepted.NAME, accepted.PREFIX, ACCEPTED),
    Surface(connect.NAME, connect.PREFIX, CONNECT, expect_connect, connect_key_of),
    # Titan 0.2 has one queue, "default": it is arranged as "own" and then as "other"
    Surface(titan02.NAME, titan02.PREFIX, TITAN02, queues={"own": "default", "other": "default"}),
    Surface(vidispine.NAME, vidispine.PREFIX, VIDISPINE, credentials=vidispine_of),
]


def test_every_mounted_interface_has_a_case_list() -> None:
    mounted = {i.name for i in app_module.interfaces()}
    missing = mounted - {"native", *(s.name for s in SURFACES)}
    assert not missing, f"add a case list and a Surface to SURFACES for: {sorted(missing)}"


async def run_native(app: Any, client: httpx.AsyncClient, world: World) -> list[Outcome]:
    covered = {(c.method, native_matrix.TEMPLATES.get(c.path, c.path)) for c in native_matrix.CASES}
    assert route_set(app, "/api/v1") == covered, "every native route has a matrix case"
    native = native_matrix.Native(app, client, world.keys)
    return await run_matrix(
        native_matrix.CASES, PERSONAS, SCOPES, native_matrix.expect, native.prepare, native.send,
        {"own": "q-own", "other": "q-other"}.__getitem__,
    )  # fmt: skip


async def test_every_interface_access_matrix(tmp_path: Path) -> None:
    async with running_app(tmp_path, auth_fail_limit=100_000) as (app, client):
        world = World(app)
        await world.populate()
        outcomes: dict[str, list[Outcome]] = {"native": await run_native(app, client, world)}
        for surface in SURFACES:
            check_coverage(app, surface)
            if surface.name == titan02.NAME:
                await world.arrange("default", "owner", ("collaborator", "viewer", "worker"))
                own = await run_surface(world, client, surface, ["own"])
                await world.arrange("default", "other", ())
                outcomes[surface.name] = own + await run_surface(world, client, surface, ["other"])
            else:
                outcomes[surface.name] = await run_surface(world, client, surface)
    for name, cells in outcomes.items():
        print(f"\n{name}: {len(cells)} cells")
    every = [o for cells in outcomes.values() for o in cells]
    assert len(every) == sum(len(s.cases) for s in SURFACES) * 16 + len(native_matrix.CASES) * 16
    report(every, "access matrix, every interface")
