"""How a dialect plugs in: an Interface names its credential scheme and error renderer, its
routes call the Guard, and 401/403/404/429 come out in the dialect's own shape."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from jobq.api import app as app_module
from jobq.api.http import security
from jobq.api.http.errors import HttpError
from jobq.auth.policy import Action
from tests.authkit import add_person, auth_store_of, running_app

router = APIRouter()


@router.get("/job/{job_id}")
async def show(request: Request, job_id: str) -> Response:
    await (await security.guard_of(request)).job(job_id, Action.read)
    job = await request.app.state.engine.get(job_id)
    return JSONResponse({"guid": job.id})


def seed_shape(request: Request, err: HttpError) -> Response:
    """A made-up seed's error shape: {"code": N, "error": "..."}."""
    return JSONResponse({"code": err.status * 10, "error": err.message}, status_code=err.status)


@pytest.fixture
def dialects(monkeypatch: pytest.MonkeyPatch) -> None:
    native = app_module.interfaces()
    extra = [
        app_module.Interface("keyed", "/keyed", lambda: router, seed_shape, security.KEY),
        app_module.Interface("basic", "/basic", lambda: router, seed_shape, security.BASIC),
    ]
    monkeypatch.setattr(app_module, "interfaces", lambda: native + extra)


def basic(user: str, key: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{key}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.mark.usefixtures("dialects")
async def test_key_and_basic_schemes_answer_in_the_dialects_shape(tmp_path: Path) -> None:
    async with running_app(tmp_path, auth_fail_limit=100) as (app, client):
        ann = await add_person(auth_store_of(app), "ann")
        bob = await add_person(auth_store_of(app), "bob")
        r = await client.post(
            "/api/v1/jobs", json={"queue": "anns"}, headers={"Authorization": f"Bearer {ann}"}
        )
        job_id = r.json()["id"]

        r = await client.get(f"/keyed/job/{job_id}", headers={"Authorization": f"Key {ann}"})
        assert r.status_code == 200 and r.json() == {"guid": job_id}
        r = await client.get(f"/keyed/job/{job_id}", headers={"Authorization": f"Bearer {ann}"})
        assert r.status_code == 401 and r.json()["code"] == 4010
        assert r.headers["www-authenticate"].startswith("Key")
        r = await client.get(f"/keyed/job/{job_id}", headers={"Authorization": f"Key {bob}"})
        assert r.status_code == 404 and r.json()["code"] == 4040

        assert (
            await client.get(f"/basic/job/{job_id}", headers=basic("ann", ann))
        ).status_code == 200
        r = await client.get(f"/basic/job/{job_id}", headers=basic("bob", ann))  # not bob's key
        assert r.status_code == 401 and r.json()["code"] == 4010
        assert r.headers["www-authenticate"].startswith("Basic")
        r = await client.get(f"/basic/job/{job_id}", headers={"Authorization": "Basic !!!"})
        assert r.status_code == 401
        r = await client.get(f"/basic/job/{job_id}")
        assert r.status_code == 401 and r.json()["code"] == 4010


@pytest.mark.usefixtures("dialects")
async def test_the_failure_limit_answers_429_in_the_dialects_shape(tmp_path: Path) -> None:
    async with running_app(tmp_path, auth_fail_limit=2) as (app, client):
        await add_person(auth_store_of(app), "ann")
        for _ in range(2):
            r = await client.get("/basic/job/x", headers=basic("ann", "wrong"))
            assert r.status_code == 401
        r = await client.get("/keyed/job/x", headers={"Authorization": "Key wrong"})
        assert r.status_code == 429 and r.json()["code"] == 4290
        assert int(r.headers["retry-after"]) >= 1
