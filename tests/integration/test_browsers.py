"""jobq.api.http.browsers on the whole app: no GET route of any interface changes state when
another site sends it, and every answer carries the security headers (issue 26, 6 and 23)."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.routing import APIRoute

from jobq.api.http.browsers import loopback_name, origin_host
from tests.authkit import add_person, asgi_status, auth_store_of, bearer, running_app

CROSS_SITE = {"host": "127.0.0.1:8080", "sec-fetch-site": "cross-site"}


def test_loopback_names_and_origins() -> None:
    for host in ("127.0.0.1", "127.0.0.1:80", "localhost:8080", "LocalHost.", "[::1]", "[::1]:1"):
        assert loopback_name(host), host
    for host in ("evil.example", "localhost.evil.example", "10.0.0.1:8080", "[::2]:80", ""):
        assert not loopback_name(host), host
    assert origin_host(b"https://Jobs.Example:8443") == b"jobs.example:8443"
    assert origin_host(b"null") == b""


async def test_no_get_route_changes_state_when_another_site_sends_it(tmp_path: Path) -> None:
    """Every GET route of the app, with its path filled in, sent cross-site: the jobs that
    could be handed out are all still waiting afterwards (Titan's consume routes are GETs)."""
    async with running_app(tmp_path) as (app, client):
        jobs = [(await client.post("/api/v1/jobs", json={"queue": q})).json()
                for q in ("default", "g")]  # fmt: skip
        values = {"group_name": "g", "guid": "default", "name": "default", "key": "1"}
        gets = [r for r in app.routes if isinstance(r, APIRoute) and "GET" in (r.methods or ())]
        assert len(gets) > 40
        for route in gets:
            path = re.sub(
                r"{(\w+)(:\w+)?}", lambda m: values.get(m.group(1), jobs[0]["id"]), route.path
            )
            await asgi_status(app, "GET", path, CROSS_SITE)
        for job in jobs:
            again = (await client.get(f"/api/v1/jobs/{job['id']}")).json()
            assert again["state"] == "queued" and again["attempt"] == 0, route.path


async def test_answers_carry_security_headers(tmp_path: Path) -> None:
    async with running_app(tmp_path) as (_, client):
        page = await client.get("/ui/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "same-origin"
        assert page.headers["x-frame-options"] == "DENY"
        for path in ("/ui/login", "/docs"):
            assert "frame-ancestors" in (await client.get(path)).headers["content-security-policy"]
        api = await client.get("/api/v1/jobs")
        assert api.headers["x-content-type-options"] == "nosniff"
        assert "content-security-policy" not in api.headers


async def test_docs_come_from_this_server_and_need_a_key_once_users_exist(
    tmp_path: Path,
) -> None:
    async with running_app(tmp_path) as (app, client):
        page = (await client.get("/docs")).text  # open mode: no key
        assert "cdn" not in page.lower() and "<script>" not in page  # no inline script
        for asset in re.findall(r"(?:src|href)='([^']+)'", page):
            r = await client.get(asset)
            assert r.status_code == 200 and r.content, asset
        assert (await client.get("/openapi.json")).json()["info"]["title"] == "jobq"
    async with running_app(tmp_path) as (app, client):
        key = await add_person(auth_store_of(app), "ann")
        r = await client.get("/docs")
        assert r.status_code == 303 and r.headers["location"] == "/ui/login"
        r = await client.get("/openapi.json")
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        assert (await client.get("/openapi.json", headers=bearer(key))).status_code == 200
        assert "swagger-ui" in (await client.get("/docs", headers=bearer(key))).text
        token = re.search(r"name='csrf' value='([^']+)'", (await client.get("/ui/login")).text)
        assert token is not None
        await client.post("/ui/login", data={"key": key, "csrf": token.group(1)})
        assert (await client.get("/openapi.json")).status_code == 200  # the dashboard session
        dialect = await client.get("/titan-0.3/v1/docs", headers=bearer(key))
        assert "/titan-0.3/v1/openapi.json" in dialect.text and "cdn" not in dialect.text
