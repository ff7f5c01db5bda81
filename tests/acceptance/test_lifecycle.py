"""The whole job lifecycle over real HTTP against a real `jobq serve` process."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import httpx
import pytest

from tests.conftest import Server

pytestmark = pytest.mark.acceptance
WORKER = {"name": "w1", "host": "test", "pid": 1}


def enqueue(api: str, **job: Any) -> dict[str, Any]:
    r = httpx.post(f"{api}/jobs", json={"queue": "q", **job})
    assert r.status_code == 201, r.text
    return r.json()


def claim(api: str, **kw: Any) -> list[dict[str, Any]]:
    r = httpx.post(f"{api}/claim", json={"queues": ["q"], "worker": WORKER, **kw}, timeout=60)
    assert r.status_code in (200, 204), r.text
    return r.json()["jobs"] if r.status_code == 200 else []


def wait_for(predicate: Any, timeout: float = 20.0) -> Any:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_enqueue_claim_log_complete_read(server: Server):
    api = server.api
    job = enqueue(api, type="send", payload={"to": "ada"}, metadata={"team": "mail"})
    assert job["state"] == "queued" and job["attempt"] == 0
    [held] = claim(api)
    assert held["id"] == job["id"] and held["lease_token"]
    logs = {"entries": [{"stream": "stdout", "text": "sending"}, {"stream": "stderr", "text": "!"}]}
    assert httpx.post(f"{api}/jobs/{job['id']}/logs", json=logs).json() == {"last_seq": 2}
    done = httpx.post(f"{api}/jobs/{job['id']}/complete",
                      json={"token": held["lease_token"], "result": {"id": 42}})  # fmt: skip
    assert done.status_code == 200 and done.json()["state"] == "succeeded"
    read = httpx.get(f"{api}/jobs/{job['id']}").json()
    assert read["result"] == {"id": 42} and read["worker"]["name"] == "w1"
    listed = httpx.get(f"{api}/jobs", params={"meta.team": "mail", "state": "succeeded"}).json()
    assert [j["id"] for j in listed["jobs"]] == [job["id"]]
    text = httpx.get(f"{api}/jobs/{job['id']}/log.txt").text
    assert "stdout sending" in text and "stderr !" in text
    attempts = httpx.get(f"{api}/jobs/{job['id']}/attempts").json()["attempts"]
    assert [a["outcome"] for a in attempts] == ["succeeded"]
    assert httpx.delete(f"{api}/jobs/{job['id']}").status_code == 204
    assert httpx.get(f"{api}/jobs/{job['id']}").status_code == 404


def test_long_poll_claim_is_woken_by_an_enqueue(server: Server):
    api = server.api
    got: dict[str, Any] = {}

    def wait_claim() -> None:
        started = time.monotonic()
        got["jobs"] = claim(api, wait=30)
        got["elapsed"] = time.monotonic() - started

    t = threading.Thread(target=wait_claim)
    t.start()
    time.sleep(0.5)
    assert "jobs" not in got
    job = enqueue(api)
    t.join(35)
    assert [j["id"] for j in got["jobs"]] == [job["id"]]
    assert got["elapsed"] < 20, "woken by the enqueue, not by the end of the wait"


def claim_waiters(server: Server) -> float:
    text = httpx.get(f"{server.url}/metrics").text
    [line] = [ln for ln in text.splitlines() if ln.startswith("jobq_claim_waiters ")]
    return float(line.split()[1])


def test_a_long_polling_claimer_that_hung_up_is_handed_nothing(server: Server):
    body = json.dumps({"queues": ["q"], "worker": WORKER, "wait": 30}).encode()
    head = (f"POST /api/v1/claim HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()  # fmt: skip
    with socket.create_connection(("127.0.0.1", server.port)) as conn:
        conn.sendall(head + body)
        wait_for(lambda: claim_waiters(server) == 1)
    time.sleep(0.3)  # the server has seen the connection close; the claim is still parked
    assert claim_waiters(server) == 1
    job = enqueue(server.api)
    back = wait_for(lambda: (j := get(server.api, job["id"]))["state"] == "queued" and j, 10)
    assert back["attempt"] == 0  # given back at once, not left to its lease
    assert [j["id"] for j in claim(server.api)] == [job["id"]]


def get(api: str, job_id: str) -> dict[str, Any]:
    r = httpx.get(f"{api}/jobs/{job_id}")
    assert r.status_code == 200, r.text
    return r.json()


def test_claim_with_nothing_waiting_answers_204(server: Server):
    body = {"queues": ["empty"], "worker": WORKER, "wait": 0.2}
    r = httpx.post(f"{server.api}/claim", json=body)
    assert r.status_code == 204


def test_expired_lease_returns_the_job_to_another_worker(server: Server):
    api = server.api
    job = enqueue(api)
    [first] = claim(api, lease_seconds=1)
    [second] = wait_for(lambda: claim(api, wait=1), timeout=30)
    assert second["id"] == job["id"] and second["attempt"] == 2
    late = httpx.post(f"{api}/jobs/{job['id']}/complete", json={"token": first["lease_token"]})
    assert late.status_code == 409 and late.json()["error"]["code"] == "stale_lease"
    ok = httpx.post(f"{api}/jobs/{job['id']}/complete", json={"token": second["lease_token"]})
    assert ok.json()["state"] == "succeeded"


def test_cancel_of_a_running_job_reaches_its_worker(server: Server):
    api = server.api
    job = enqueue(api)
    [held] = claim(api)
    r = httpx.post(f"{api}/jobs/{job['id']}/cancel", json={"reason": "operator"})
    assert r.json()["state"] == "running" and r.json()["cancel_requested"] is True
    beat = httpx.post(f"{api}/jobs/{job['id']}/heartbeat", json={"token": held["lease_token"]})
    assert beat.json()["cancel_requested"] is True
    body = {"token": held["lease_token"], "error": {"code": "killed"}}
    confirm = httpx.post(f"{api}/jobs/{job['id']}/fail", json=body)
    assert confirm.json()["state"] == "cancelled"
    again = httpx.post(f"{api}/jobs/{job['id']}/cancel")
    assert again.status_code == 409 and again.json()["error"]["details"]["state"] == "cancelled"


def test_result_wait_returns_when_the_job_finishes(server: Server):
    api = server.api
    job = enqueue(api)
    out: dict[str, Any] = {}

    def wait_result() -> None:
        r = httpx.get(f"{api}/jobs/{job['id']}", params={"wait": 30}, timeout=40)
        out.update(r.json())

    t = threading.Thread(target=wait_result)
    t.start()
    [held] = claim(api)
    httpx.post(f"{api}/jobs/{job['id']}/complete", json={"token": held["lease_token"], "result": 7})
    t.join(40)
    assert out["state"] == "succeeded" and out["result"] == 7


def test_retry_pause_resume_and_batch_ack(server: Server):
    api = server.api
    batch = httpx.post(f"{api}/jobs", json={"jobs": [{"queue": "q"} for _ in range(3)]}).json()
    assert len(batch["jobs"]) == 3 and all(j["created"] for j in batch["jobs"])
    assert httpx.post(f"{api}/queues/q/pause").json()["paused"] is True
    assert claim(api, max=3) == []
    httpx.post(f"{api}/queues/q/resume")
    held = claim(api, max=3)
    acks = [{"id": held[0]["id"], "token": held[0]["lease_token"], "result": 1},
            {"id": held[1]["id"], "token": held[1]["lease_token"], "error": {"code": "x"},
             "retryable": False},
            {"id": held[2]["id"], "token": "stale"}]  # fmt: skip
    results = httpx.post(f"{api}/ack", json={"acks": acks}).json()["results"]
    assert [r["ok"] for r in results] == [True, True, False]
    assert results[2]["error"]["code"] == "stale_lease"
    retry = httpx.post(f"{api}/jobs/{held[1]['id']}/retry")
    assert retry.status_code == 201 and retry.json()["retry_of"] == held[1]["id"]
    queues = httpx.get(f"{api}/queues").json()["queues"]
    assert queues[0]["counts"]["queued"] == 1 and queues[0]["counts"]["running"] == 1


def test_bad_input_gets_clear_errors(server: Server):
    api = server.api
    headers = {"content-type": "application/json"}
    assert httpx.post(f"{api}/jobs", content=b"{nope", headers=headers).status_code == 400
    bad = httpx.post(f"{api}/jobs", json={"queue": "q", "priority": "high", "colour": 1})
    assert bad.status_code == 422
    fields = {f["field"] for f in bad.json()["error"]["details"]["fields"]}
    assert fields == {"priority", "colour"}
    assert httpx.post(f"{api}/jobs", content=b"\xff\xfe", headers=headers).status_code == 400
    assert httpx.get(f"{api}/jobs/nope").status_code == 404
    assert httpx.get(f"{api}/jobs", params={"state": "lost"}).status_code == 422
    assert httpx.get(f"{api}/jobs", params={"cursor": "garbage"}).status_code == 422
    job = enqueue(api)
    assert httpx.delete(f"{api}/jobs/{job['id']}").status_code == 409


def test_body_over_the_limit_is_413(tmp_path):
    srv = Server(f"sqlite:///{tmp_path / 'small.db'}", "--max-body", "1000").start()
    try:
        big = {"queue": "q", "payload": "x" * 2000}
        r = httpx.post(f"{srv.api}/jobs", json=big)
        assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
        assert httpx.post(f"{srv.api}/jobs", json={"queue": "q"}).status_code == 201
    finally:
        srv.stop()


def test_event_stream_and_log_stream(server: Server):
    api = server.api
    job = enqueue(api)
    events: list[str] = []
    logs: list[str] = []

    def read_events() -> None:
        with httpx.stream("GET", f"{api}/events", timeout=30) as r:
            for line in r.iter_lines():
                if line.startswith("data: "):
                    events.append(line)
                    if '"to":"succeeded"' in line:
                        return

    def read_logs() -> None:
        with httpx.stream("GET", f"{api}/jobs/{job['id']}/logs/stream", timeout=30) as r:
            for line in r.iter_lines():
                logs.append(line)

    threads = [threading.Thread(target=read_events), threading.Thread(target=read_logs)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    [held] = claim(api)
    for i in range(3):
        httpx.post(f"{api}/jobs/{job['id']}/logs", json={"entries": [{"text": f"line {i}"}]})
    httpx.post(f"{api}/jobs/{job['id']}/complete", json={"token": held["lease_token"]})
    for t in threads:
        t.join(30)
    assert any('"from":"queued","to":"running"' in e for e in events)
    assert any('"to":"succeeded"' in e for e in events)
    texts = [line for line in logs if line.startswith("data: ") and "line " in line]
    assert [t.split('"text":"')[1].split('"')[0] for t in texts] == ["line 0", "line 1", "line 2"]
    assert "event: end" in logs
