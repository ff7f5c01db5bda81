"""The Posit Connect dialect (seed 003) over HTTP, in process, on each store: every
route's success and every documented error, in Connect's error shape."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from jobq.api.app import create_app
from jobq.api.dialects.connect.shapes import content_id
from jobq.config import Config
from jobq.errors import Unauthorized

GUID = "report-7f3a"
WORKER = {"name": "w1", "host": "node-1", "pid": 4321}
NOT_FOUND = {"code": 4, "error": "The requested object does not exist."}
NOT_ACTIVE = "The specified job cannot be terminated because it is not active"


@dataclass(frozen=True)
class Caller:
    """What jobq.auth leaves in request.state.principal."""

    user: str | None
    admin: bool = False


class AsCaller:
    """ASGI wrapper that authenticates every request as `principal` with `roles`, as the auth
    layer will."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.principal: Caller | None = None
        self.roles: dict[str, str] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.principal is not None:
            state = scope.setdefault("state", {})
            state["principal"], state["roles"] = self.principal, self.roles
        await self.app(scope, receive, send)


@pytest.fixture
async def app(store_url: str) -> AsyncIterator[FastAPI]:
    app = create_app(Config(db=store_url))

    async def unauthenticated() -> None:
        raise Unauthorized("authentication required: send an API key")

    app.add_api_route("/__api__/v1/test-unauthenticated", unauthenticated)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
def caller(app: FastAPI) -> AsCaller:
    return AsCaller(app)


@pytest.fixture
async def http(caller: AsCaller) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=caller)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        yield client


async def enqueue(http: httpx.AsyncClient, queue: str = GUID, **job: Any) -> dict[str, Any]:
    r = await http.post("/api/v1/jobs", json={"queue": queue, "type": "build_report", **job})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def claim(http: httpx.AsyncClient, queue: str = GUID) -> dict[str, Any]:
    r = await http.post("/api/v1/claim", json={"queues": [queue], "worker": WORKER})
    assert r.status_code == 200, r.text
    return dict(r.json()["jobs"][0])


async def append(http: httpx.AsyncClient, job_id: str, *lines: tuple[str, str]) -> None:
    entries = [{"stream": stream, "text": text} for stream, text in lines]
    r = await http.post(f"/api/v1/jobs/{job_id}/logs", json={"entries": entries})
    assert r.status_code == 201, r.text


def jobs_url(guid: str = GUID, key: str | None = None, tail: str = "") -> str:
    url = f"/__api__/v1/content/{guid}/jobs"
    return url if key is None else f"{url}/{key}{tail}"


def assert_error(r: httpx.Response, status: int, code: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = dict(r.json())
    assert set(body) == {"code", "error", "payload"} and body["code"] == code
    assert isinstance(body["error"], str) and body["error"]
    return body


MISSING_KEY = "0190a0a0-0000-7000-8000-000000000000"
ROUTES = ["", "/log", "/tail", "/download", "/error"]


# --- GetJobs ---


async def test_get_jobs_lists_the_content_items_jobs_newest_first(http: httpx.AsyncClient):
    first = await enqueue(http)
    second = await enqueue(http, metadata={"bundle_id": "12", "variant_id": "3"})
    await enqueue(http, queue="other-content")
    r = await http.get(jobs_url())
    assert r.status_code == 200
    items = r.json()
    assert [i["key"] for i in items] == [second["id"], first["id"]]
    item = items[0]
    assert item["id"] == str(second["seq"]) and item["tag"] == "build_report"
    assert item["status"] == 0 and item["exit_code"] is None and item["start_time"] is None
    assert item["queue_name"] == GUID and item["queued_time"] is not None
    assert item["app_id"] == str(content_id(GUID)) and item["content_guid"] == GUID
    assert (item["bundle_id"], item["variant_id"]) == ("12", "3")


async def test_get_jobs_of_unknown_content_is_404_code_4(http: httpx.AsyncClient):
    body = assert_error(await http.get(jobs_url("no-such-content")), 404, 4)
    assert body["error"] == NOT_FOUND["error"]


async def test_get_jobs_of_a_paused_empty_queue_is_an_empty_list(http: httpx.AsyncClient):
    assert (await http.post("/api/v1/queues/quiet/pause")).status_code == 200
    r = await http.get(jobs_url("quiet"))
    assert r.status_code == 200 and r.json() == []


async def test_get_jobs_with_an_invalid_guid_is_400_code_3(http: httpx.AsyncClient):
    assert_error(await http.get(jobs_url("bad guid!")), 400, 3)
    assert_error(await http.get(jobs_url("x" * 201)), 400, 3)


async def test_get_jobs_ignores_query_parameters_it_does_not_know(http: httpx.AsyncClient):
    job = await enqueue(http)
    r = await http.get(jobs_url(), params={"key": job["id"], "status": "0"})
    assert r.status_code == 200 and [i["key"] for i in r.json()] == [job["id"]]


# --- GetJob ---


async def test_get_job_maps_worker_times_and_status(http: httpx.AsyncClient):
    job = await enqueue(http)
    held = await claim(http)
    beat = {"token": held["lease_token"]}
    assert (await http.post(f"/api/v1/jobs/{job['id']}/heartbeat", json=beat)).status_code == 200
    item = (await http.get(jobs_url(key=job["id"]))).json()
    assert (item["pid"], item["hostname"], item["ppid"]) == ("4321", "node-1", None)
    assert item["status"] == 0 and item["queue_name"] is None and item["queued_time"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", item["start_time"])
    assert item["last_heartbeat_time"] >= item["start_time"] and item["end_time"] is None
    done = {"token": held["lease_token"], "result": None}
    assert (await http.post(f"/api/v1/jobs/{job['id']}/complete", json=done)).status_code == 200
    item = (await http.get(jobs_url(key=job["id"]))).json()
    assert item["status"] in (1, 2) and item["exit_code"] == 0 and item["end_time"] is not None


async def test_get_job_of_another_content_item_is_404(http: httpx.AsyncClient):
    job = await enqueue(http, queue="other-content")
    assert_error(await http.get(jobs_url(key=job["id"])), 404, 4)


@pytest.mark.parametrize("route", ROUTES)
async def test_every_job_route_answers_404_for_an_unknown_key(http: httpx.AsyncClient, route: str):
    await enqueue(http)
    assert_error(await http.get(jobs_url(key=MISSING_KEY, tail=route)), 404, 4)


@pytest.mark.parametrize("route", ROUTES)
async def test_every_job_route_answers_400_for_a_malformed_key(http: httpx.AsyncClient, route: str):
    assert_error(await http.get(jobs_url(key="not-a-key", tail=route)), 400, 3)


# --- JobLogs ---


async def test_log_returns_the_last_max_log_lines(http: httpx.AsyncClient):
    job = await enqueue(http)
    await append(http, job["id"], ("stdout", "one"), ("stderr", "two"), ("system", "three"))
    r = await http.get(jobs_url(key=job["id"], tail="/log"))
    entries = r.json()["entries"]
    assert [(e["source"], e["data"]) for e in entries] == [
        ("stdout", "one"), ("stderr", "two"), ("stderr", "three")]  # fmt: skip
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entries[0]["timestamp"])
    r = await http.get(jobs_url(key=job["id"], tail="/log"), params={"maxLogLines": 2})
    assert [e["data"] for e in r.json()["entries"]] == ["two", "three"]
    r = await http.get(jobs_url(key=job["id"], tail="/log"), params={"maxLogLines": 0})
    assert r.json() == {"entries": []}


@pytest.mark.parametrize("bad", ["abc", "-1", "1.5", "99999999999"])
async def test_log_with_a_bad_max_log_lines_is_400(http: httpx.AsyncClient, bad: str):
    job = await enqueue(http)
    r = await http.get(jobs_url(key=job["id"], tail="/log"), params={"maxLogLines": bad})
    assert_error(r, 400, 3)


# --- JobTailLog (live behaviour over a real server: tests/acceptance/test_connect_sdk.py) ---


async def test_tail_of_a_finished_job_sends_its_lines_and_closes(http: httpx.AsyncClient):
    job = await enqueue(http)
    await append(http, job["id"], ("stdout", "a"), ("stderr", "b"))
    assert (await http.post(f"/api/v1/jobs/{job['id']}/cancel")).status_code == 200
    r = await http.get(jobs_url(key=job["id"], tail="/tail"), timeout=30)
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-ndjson"
    lines = [line for line in r.text.split("\n") if line]
    assert [httpx.Response(200, content=line).json()["data"] for line in lines] == ["a", "b"]


# --- JobDownloadLog ---


async def test_download_is_an_attachment_with_the_documented_default_name(
    http: httpx.AsyncClient,
):
    job = await enqueue(http, metadata={"bundle_id": "9"})
    await append(http, job["id"], ("stdout", "out"), ("stderr", "err"), ("stdout", "out2"))
    r = await http.get(jobs_url(key=job["id"], tail="/download"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    name = f"rstudio-connect.{content_id(GUID)}.0.9.build_report.{job['id']}.log"
    assert (
        r.headers["content-disposition"]
        == f"attachment; filename=\"{name}\"; filename*=UTF-8''{name}"
    )
    lines = r.text.splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [
        "[stdout] out", "[stderr] err", "[stdout] out2"]  # fmt: skip


async def test_download_takes_a_file_name(http: httpx.AsyncClient):
    job = await enqueue(http)
    r = await http.get(jobs_url(key=job["id"], tail="/download"), params={"filename": "x.log"})
    assert (
        r.headers["content-disposition"] == "attachment; filename=\"x.log\"; filename*=UTF-8''x.log"
    )
    assert r.text == ""


@pytest.mark.parametrize("bad", ['a"b.log', "../etc/passwd", "a\nb", "", "x" * 256])
async def test_download_with_a_bad_file_name_is_400(http: httpx.AsyncClient, bad: str):
    job = await enqueue(http)
    r = await http.get(jobs_url(key=job["id"], tail="/download"), params={"filename": bad})
    assert_error(r, 400, 3)


async def test_download_name_from_job_data_is_a_safe_stem(http: httpx.AsyncClient):
    """A job's creator picks neither the name's extension nor its path; any character is
    encoded (RFC 6266), never a 500 or a broken answer."""
    metadata = {"bundle_id": 'x.exe"\r\n/..', "variant_id": "ünï\u2028"}
    job = await enqueue(http, type="a/../b.exe", metadata=metadata)
    r = await http.get(jobs_url(key=job["id"], tail="/download"))
    assert r.status_code == 200, r.text
    disposition = r.headers["content-disposition"]
    name = f"rstudio-connect.{content_id(GUID)}._n_.x_exe_.a_b_exe.{job['id']}.log"
    assert disposition == f"attachment; filename=\"{name}\"; filename*=UTF-8''{name}"


async def test_download_with_a_non_latin_file_name_is_encoded(http: httpx.AsyncClient):
    job = await enqueue(http)
    r = await http.get(jobs_url(key=job["id"], tail="/download"), params={"filename": "журнал.log"})
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"] == (
        'attachment; filename="______.log"; '
        "filename*=UTF-8''%D0%B6%D1%83%D1%80%D0%BD%D0%B0%D0%BB.log"
    )


# --- JobError ---


async def test_error_of_a_failed_job_is_a_logged_error(http: httpx.AsyncClient):
    job = await enqueue(http, max_attempts=1)
    held = await claim(http)
    body = {"token": held["lease_token"], "exit_code": 3,
            "error": {"code": "render_failed", "message": "pandoc exited 3"}}  # fmt: skip
    assert (await http.post(f"/api/v1/jobs/{job['id']}/fail", json=body)).status_code == 200
    r = await http.get(jobs_url(key=job["id"], tail="/error"))
    assert r.status_code == 200
    assert r.json() == {"code": "render_failed", "summary": "pandoc exited 3"}
    item = (await http.get(jobs_url(key=job["id"]))).json()
    assert item["exit_code"] == 3 and item["status"] in (1, 2)


async def test_error_of_a_job_without_one_is_204(http: httpx.AsyncClient):
    job = await enqueue(http)
    r = await http.get(jobs_url(key=job["id"], tail="/error"))
    assert r.status_code == 204 and r.content == b""


# --- KillJob ---


async def test_kill_of_a_waiting_job_cancels_it(http: httpx.AsyncClient):
    job = await enqueue(http)
    r = await http.delete(jobs_url(key=job["id"]))
    assert r.status_code == 200
    order = r.json()
    assert order["result"] == "Order to kill job registered" and order["job_key"] == job["id"]
    assert order["job_id"] == job["seq"] and order["app_id"] == content_id(GUID)
    assert order["app_guid"] == GUID and len(order["guid"]) == 36
    assert (await http.get(f"/api/v1/jobs/{job['id']}")).json()["state"] == "cancelled"


async def test_kill_of_a_running_job_reaches_its_worker(http: httpx.AsyncClient):
    job = await enqueue(http)
    held = await claim(http)
    assert (await http.delete(jobs_url(key=job["id"]))).status_code == 200
    beat = {"token": held["lease_token"]}
    r = await http.post(f"/api/v1/jobs/{job['id']}/heartbeat", json=beat)
    assert r.json()["cancel_requested"] is True
    assert (await http.get(jobs_url(key=job["id"]))).json()["status"] == 0
    again = await http.delete(jobs_url(key=job["id"]))
    assert again.status_code == 200, "a kill order for a job still stopping is registered again"
    stop = {"token": held["lease_token"], "error": {"code": "killed"}, "exit_code": 137}
    assert (await http.post(f"/api/v1/jobs/{job['id']}/fail", json=stop)).status_code == 200
    item = (await http.get(jobs_url(key=job["id"]))).json()
    assert item["exit_code"] == 137 and item["status"] in (1, 2)


async def test_kill_of_a_finished_job_is_409_code_163(http: httpx.AsyncClient):
    job = await enqueue(http)
    assert (await http.delete(jobs_url(key=job["id"]))).status_code == 200
    body = assert_error(await http.delete(jobs_url(key=job["id"])), 409, 163)
    assert body["error"] == NOT_ACTIVE


async def test_kill_errors_unknown_malformed_and_other_content(http: httpx.AsyncClient):
    other = await enqueue(http, queue="other-content")
    assert_error(await http.delete(jobs_url(key=MISSING_KEY)), 404, 4)
    assert_error(await http.delete(jobs_url(key="nope")), 400, 3)
    assert_error(await http.delete(jobs_url(key=other["id"])), 404, 4)
    assert (await http.get(f"/api/v1/jobs/{other['id']}")).json()["state"] == "queued"


# --- what posit-sdk reads first ---


async def test_content_item_and_server_settings(http: httpx.AsyncClient):
    job = await enqueue(http)
    r = await http.get(f"/__api__/v1/content/{GUID}", params={"include": "owner,tags"})
    assert r.status_code == 200
    content = r.json()
    assert content["guid"] == GUID and content["id"] == str(content_id(GUID))
    assert content["created_time"] == job["created_at"]
    assert_error(await http.get("/__api__/v1/content/nothing-here"), 404, 4)
    assert_error(await http.get("/__api__/v1/content/bad%20guid"), 400, 3)
    settings = (await http.get("/__api__/server_settings")).json()
    assert settings["version"] is None and settings["product"] == "jobq"


# --- errors outside the routes, and permissions ---


async def test_unknown_routes_and_methods_answer_in_connect_shape(http: httpx.AsyncClient):
    assert_error(await http.get("/__api__/v1/nothing"), 404, 4)
    assert_error(await http.post(jobs_url()), 405, 1)


async def test_unauthenticated_is_401_code_24(http: httpx.AsyncClient):
    body = assert_error(await http.get("/__api__/v1/test-unauthenticated"), 401, 24)
    assert body["error"] == "The requested operation requires authentication."
