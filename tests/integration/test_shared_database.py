"""The PostgreSQL database a test module shares (conftest's `store_url`) is, once emptied, as
a fresh copy of the template: no jobs, no users, ids counted from the start again."""

from __future__ import annotations

from pathlib import Path

from tests import pgdb
from tests.authkit import add_person, auth_store_of, bearer, running_app

JSON = {"accept": "application/json"}


async def test_an_emptied_database_answers_as_a_fresh_one(tmp_path: Path, module_pg_url: str):
    await pgdb.empty_database(module_pg_url)
    async with running_app(tmp_path, db=module_pg_url) as (app, client):
        first = (await client.post("/API/job?type=T", headers=JSON)).json()["jobId"]
        key = await add_person(auth_store_of(app), "root", admin=True)
        await client.post("/API/job?type=T", headers={**JSON, **bearer(key)})
    await pgdb.empty_database(module_pg_url)
    async with running_app(tmp_path, db=module_pg_url) as (_, client):
        listed = await client.get("/api/v1/jobs")
        assert listed.status_code == 200 and listed.json()["jobs"] == []
        assert (await client.post("/API/job?type=T", headers=JSON)).json()["jobId"] == first
