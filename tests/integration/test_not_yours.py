"""Not there and not yours are one answer (issue 26, finding 8): on every job route of every
interface, a caller with no role on a job's queue gets, byte for byte, the answer it gets for
an id that names nothing (the id it asked for aside, which both answers echo as written)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from jobq.api.dialects.vidispine import routes as vidispine
from jobq.model import new_id
from tests.access import PERSONAS, Fixture, Surface, World
from tests.authkit import Cell, running_app
from tests.conftest import STORES
from tests.integration import test_auth_matrix as native_matrix
from tests.integration.test_access_matrix import SURFACES, VIDISPINE, vidispine_of
from tests.pgdb import create_database, drop_database

JOB_KINDS = ("job", "batch", "sweep")
NATIVE = Surface("native", "/api/v1", native_matrix.CASES)
VX = Surface("vidispine-vx", vidispine.PREFIX, VIDISPINE, credentials=vidispine_of)


def wire_ids(surface: Surface, job: Any) -> tuple[str, str]:
    """(the job's id, an id naming nothing) as the interface's callers write them."""
    if surface is VX:
        return f"VX-{job.seq}", f"VX-{job.seq + 1_000_000}"
    return job.id, new_id()


async def answer(fixture: Fixture, c: Cell, job_id: str) -> tuple[int, str, bytes]:
    """Status, media type and body, with the id asked for written as {id}."""
    real, c.job_id, c.vars["job_id"] = c.job_id, job_id, job_id  # bodies name c.job_id
    url = fixture.surface.prefix + c.case.path.format(**c.vars)
    headers = fixture.surface.credentials(c.persona, fixture.world.keys[c.persona])
    body = c.case.body(c) if c.case.body else None
    sent: dict[str, Any] = {}
    if body is not None:
        sent = {{"json": "json", "form": "data", "files": "files"}[c.case.content]: body}
    r = await fixture.client.request(c.case.method, url, headers=headers, **sent)
    c.job_id = real
    text = r.content.replace(job_id.encode(), b"{id}")
    return r.status_code, r.headers.get("content-type", ""), text


async def compare(world: World, client: httpx.AsyncClient, surface: Surface) -> list[Any]:
    fixture = Fixture(world, client, surface)
    differ = []
    for case in [c for c in surface.cases if c.kind in JOB_KINDS and not c.stream]:
        for persona in [p for p in PERSONAS if p not in ("no key", "bad key", "admin")]:
            cell = Cell(case, persona, "other", surface.queues["other"])
            await fixture.prepare(cell)
            job = await world.app.state.engine.get(cell.job_id)
            existing, missing = wire_ids(surface, job)
            mine, none = await answer(fixture, cell, existing), await answer(fixture, cell, missing)
            if mine != none:
                differ.append((surface.name, case.method, case.path, persona, mine, none))
            assert (await world.app.state.engine.get(cell.job_id)).state == job.state
    return differ


@pytest.mark.parametrize("kind", STORES)
async def test_a_job_not_yours_is_answered_as_one_not_there(kind: str, tmp_path: Path) -> None:
    db = None if kind == "sqlite" else await create_database()
    try:
        async with running_app(tmp_path, db=db, auth_fail_limit=100_000) as (app, client):
            world = World(app)
            await world.populate()
            differ = []
            for surface in [NATIVE, VX, *SURFACES]:
                if surface.name == "titan-0.2":
                    await world.arrange("default", "other", ())
                    surface = Surface(surface.name, surface.prefix, surface.cases,
                                      queues={"own": "default", "other": "default"})  # fmt: skip
                differ += await compare(world, client, surface)
    finally:
        if db is not None:
            await drop_database(db)
    assert not differ, differ


def test_the_cases_cover_every_interface() -> None:
    names = {s.name for s in SURFACES} | {"native"}
    assert names >= {"native", "titan-0.2", "titan-0.3", "accepted", "connect", "vidispine"}
    assert all(any(c.kind in JOB_KINDS for c in s.cases) for s in [NATIVE, VX, *SURFACES])
