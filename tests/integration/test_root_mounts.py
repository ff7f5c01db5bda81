"""Every interface mounts at the root (`--mount NAME=/`), beside the others at their own
prefixes: its routes at their own paths, unknown paths answered in its error shape, its docs
under /NAME, jobq's own pages unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jobq.api import app as app_module
from tests.authkit import add_person, auth_store_of, running_app

# a first call of each interface at its own path, and the status it answers
FIRST_CALL: dict[str, tuple[str, str, Any, int]] = {
    "native": ("POST", "/jobs", {"queue": "q", "type": "t"}, 201),
    "titan-0.2": ("POST", "/jobs", {"jobs": [{"image": "a"}]}, 201),
    "titan-0.3": ("POST", "/groups/g/jobs", {"jobs": [{"image": "a", "priority": 0}]}, 201),
    "accepted": ("POST", "/jobs", {"queue": "q", "params": {}}, 202),
    "connect": ("GET", "/server_settings", None, 200),
    "vidispine": ("POST", "/job?type=T", None, 200),
}
# the keys of each interface's error document
ERROR_KEYS = {
    "native": {"error"},
    "titan-0.2": {"error"},
    "titan-0.3": {"error"},
    "accepted": {"error", "message", "details"},
    "connect": {"code", "error", "payload"},
    "vidispine": {"notFound"},
}
# a call of each interface at its default prefix, and the status it answers there
AT_DEFAULT = {
    "native": ("GET", "/api/v1/queues", 200),
    "titan-0.2": ("GET", "/titan-0.2/v1/jobs", 200),
    "titan-0.3": ("GET", "/titan-0.3/v1/groups/g/jobs", 200),
    "accepted": ("POST", "/accepted/want_job?queue=empty", 204),
    "connect": ("GET", "/__api__/server_settings", 200),
    "vidispine": ("GET", "/API/jobtype", 200),
}


def test_the_tables_name_every_interface() -> None:
    names = {i.name for i in app_module.interfaces()}
    assert names == set(FIRST_CALL) == set(ERROR_KEYS) == set(AT_DEFAULT)


@pytest.mark.parametrize("name", sorted(FIRST_CALL))
@pytest.mark.parametrize("prefix", ["", "/"])
async def test_an_interface_at_the_root_beside_the_others(
    tmp_path: Path, name: str, prefix: str
) -> None:
    mounts = {name: prefix.rstrip("/")}
    async with running_app(tmp_path, mounts=mounts) as (_, client):
        json = {"accept": "application/json"}
        method, path, body, status = FIRST_CALL[name]
        answer = await client.request(method, path, json=body, headers=json)
        assert answer.status_code == status, answer.text
        missing = await client.get("/no/such/path", headers=json)
        assert missing.status_code == 404 and set(missing.json()) == ERROR_KEYS[name]
        for other, (method, read, status) in AT_DEFAULT.items():
            got = await client.request(method, read, headers=json)
            assert got.status_code == (404 if other == name else status), (other, got.text)
        if name != "native":  # the native API's docs are the app's own
            docs = (await client.get(f"/{name}/openapi.json")).json()
            assert docs["servers"] == [{"url": "/"}]
        assert (await client.get("/healthz")).status_code == 200
        paths = (await client.get("/openapi.json")).json()["paths"]  # no operation in it twice
        assert "/healthz" in paths


async def test_jobq_s_own_pages_stay_open_beside_the_native_api_at_the_root(tmp_path: Path):
    """With users (authentication on), /healthz and /readyz need no key wherever the native
    API is mounted: a load balancer's probe has none."""
    async with running_app(tmp_path, mounts={"native": ""}) as (app, client):
        await add_person(auth_store_of(app), "root", admin=True)
        for page in ("/healthz", "/readyz"):
            answer = await client.get(page)
            assert answer.status_code == 200, (page, answer.text)
        assert (await client.get("/queues")).status_code == 401
