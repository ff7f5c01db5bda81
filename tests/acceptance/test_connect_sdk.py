"""The Connect dialect against a real `jobq serve`: posit-sdk, unchanged, as its client; and a
live tail that sees lines while the job runs and closes when the job is finalized."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from posit import connect
from posit.connect.errors import ClientError

from tests.conftest import Server

pytestmark = pytest.mark.acceptance
GUID = "weekly-report"
WORKER = {"name": "w1", "host": "node-7", "pid": 999}


def enqueue(server: Server, queue: str = GUID) -> dict[str, Any]:
    r = httpx.post(f"{server.api}/jobs", json={"queue": queue, "type": "build_report"})
    assert r.status_code == 201, r.text
    return dict(r.json())


def claim(server: Server) -> dict[str, Any]:
    body = {"queues": [GUID], "worker": WORKER}
    r = httpx.post(f"{server.api}/claim", json=body)
    assert r.status_code == 200, r.text
    return dict(r.json()["jobs"][0])


def append(server: Server, job_id: str, text: str) -> None:
    body = {"entries": [{"stream": "stdout", "text": text}]}
    assert httpx.post(f"{server.api}/jobs/{job_id}/logs", json=body).status_code == 201


def test_posit_sdk_lists_finds_and_kills_a_job(server: Server):
    waiting = enqueue(server)
    running = enqueue(server)
    enqueue(server, queue="other-content")
    held = claim(server)
    assert held["id"] == waiting["id"]
    client = connect.Client(url=server.url, api_key="any-key-while-auth-is-open")

    content = client.content.get(GUID)
    assert content["guid"] == GUID
    jobs = content.jobs
    assert sorted(job["key"] for job in jobs.fetch()) == sorted([waiting["id"], running["id"]])

    job = jobs.find(held["id"])
    assert (job["key"], job["status"], job["pid"], job["hostname"]) == (
        held["id"], 0, "999", "node-7")  # fmt: skip
    assert jobs.find_by(key=running["id"])["id"] == str(running["seq"])

    job.destroy()  # the kill order reaches the worker on its next heartbeat
    beat = httpx.post(f"{server.api}/jobs/{held['id']}/heartbeat",
                      json={"token": held["lease_token"]})  # fmt: skip
    assert beat.json()["cancel_requested"] is True
    stop = {"token": held["lease_token"], "error": {"code": "killed"}, "exit_code": 143}
    assert httpx.post(f"{server.api}/jobs/{held['id']}/fail", json=stop).status_code == 200
    assert jobs.find(held["id"])["exit_code"] == 143

    with pytest.raises(ClientError) as not_active:
        job.destroy()
    assert (not_active.value.error_code, not_active.value.http_status) == (163, 409)
    with pytest.raises(ClientError) as missing:
        client.content.get("no-such-content").jobs.fetch()
    assert (missing.value.error_code, missing.value.http_status) == (4, 404)


def test_tail_streams_lines_while_the_job_runs_and_closes_when_it_ends(server: Server):
    job = enqueue(server)
    held = claim(server)
    append(server, job["id"], "before the tail")
    url = f"{server.url}/__api__/v1/content/{GUID}/jobs/{job['id']}/tail"
    with httpx.stream("GET", url, timeout=httpx.Timeout(60.0)) as r:
        assert r.status_code == 200
        lines = (orjson.loads(line) for line in r.iter_lines() if line)
        assert next(lines)["data"] == "before the tail"
        for n in range(3):  # each line arrives while the job is still running
            append(server, job["id"], f"line {n}")
            entry = next(lines)
            assert (entry["source"], entry["data"]) == ("stdout", f"line {n}")
            assert httpx.get(f"{server.api}/jobs/{job['id']}").json()["state"] == "running"
        done = {"token": held["lease_token"], "result": None}
        assert httpx.post(f"{server.api}/jobs/{job['id']}/complete", json=done).status_code == 200
        rest = list(lines)  # returns only once the server closes the stream
    assert rest == []
    item = httpx.get(f"{server.url}/__api__/v1/content/{GUID}/jobs/{job['id']}").json()
    assert item["status"] == 2, "the stream closed once the job was finalized"


def test_posit_sdk_session_reaches_the_log_error_download_and_tail_routes(server: Server):
    """posit-sdk has no helpers for these four JobsApi methods; its own authenticated
    session (`Client.get`, relative to /__api__) is how an SDK user reaches them."""
    job = enqueue(server)
    held = claim(server)
    append(server, job["id"], "line one\n")
    stop = {"token": held["lease_token"], "error": {"code": "bad_exit", "message": "boom"},
            "exit_code": 2}  # fmt: skip
    assert httpx.post(f"{server.api}/jobs/{job['id']}/fail", json=stop).status_code == 200
    client = connect.Client(url=server.url, api_key="any-key-while-auth-is-open")
    base = f"v1/content/{GUID}/jobs/{job['id']}"
    entries = client.get(f"{base}/log").json()["entries"]
    assert [e["data"] for e in entries] == ["line one\n"]
    assert client.get(f"{base}/error").status_code == 200
    download = client.get(f"{base}/download")
    assert "attachment" in download.headers["content-disposition"]
    assert "line one" in download.text
    with client.get(f"{base}/tail", stream=True) as tail:  # open until the job is finalized
        first = next(line for line in tail.iter_lines() if line)
    assert orjson.loads(first)["data"] == "line one\n"
