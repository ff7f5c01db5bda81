"""The client's types and the server's documents stay in step.

The client keeps only the fields its dataclasses name (an older client ignores what a newer
server adds), so a field the server renders and the client type lacks is silently lost to
every user of `jobq.Client`, and a client field the server never sends is always empty.
Here every kind of document is fetched from a real `jobq serve` over raw HTTP and its keys
are compared with the fields of the client type that parses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from typing import Any

import httpx
import pytest

from jobq.client import types as t
from tests.conftest import Server

pytestmark = pytest.mark.acceptance

WORKER = {"name": "drift", "host": "h", "pid": 1}
# client fields that only some answers carry
ONLY_SOMETIMES = {
    t.Job: {"created"},  # an enqueue's answer says whether it created the job
    t.ClaimedJob: {"created"},
    t.AckResult: {"state", "error"},  # state when stored, error when refused
    t.Deletion: {"error"},
}


def field_names(cls: type) -> set[str]:
    return {f.name for f in fields(cls)}


def assert_in_step(doc: dict[str, Any], cls: type) -> None:
    sent, known = set(doc), field_names(cls)
    assert sent <= known, f"{cls.__name__} lacks {sorted(sent - known)}"
    missing = known - sent - ONLY_SOMETIMES.get(cls, set())
    assert not missing, f"the server never sends {cls.__name__}.{sorted(missing)}"


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server.url}/api/v1", timeout=60) as c:
        yield c


def ok(answer: httpx.Response) -> Any:
    assert answer.status_code < 300, answer.text
    return answer.json()


def test_job_documents(http: httpx.Client) -> None:
    job = ok(http.post("/jobs", json={"queue": "drift", "type": "a"}))
    assert_in_step(job, t.Job)
    created = ok(http.post("/jobs", json={"jobs": [{"queue": "drift"}]}))["jobs"][0]
    assert_in_step(created, t.Job)
    assert "created" in created
    page = ok(http.get("/jobs", params={"queue": "drift"}))
    assert set(page) == field_names(t.JobPage) - {"total", "total_capped"}
    counted = ok(http.get("/jobs", params={"queue": "drift", "total": "true"}))
    assert set(counted) == field_names(t.JobPage)
    for listed in page["jobs"]:
        assert_in_step(listed, t.Job)


def test_claim_heartbeat_ack_and_attempt_documents(http: httpx.Client) -> None:
    ok(http.post("/jobs", json={"jobs": [{"queue": "drift"}, {"queue": "drift"}]}))
    claimed = ok(http.post("/claim", json={"queues": ["drift"], "max": 2, "worker": WORKER}))
    first, second = claimed["jobs"]
    assert_in_step(first, t.ClaimedJob)
    beat = ok(http.post(f"/jobs/{first['id']}/heartbeat", json={"token": first["lease_token"]}))
    assert_in_step(beat, t.Heartbeat)
    acks = [{"id": first["id"], "token": first["lease_token"], "result": 1},
            {"id": second["id"], "token": "stale"}]  # fmt: skip
    results = ok(http.post("/ack", json={"acks": acks}))["results"]
    assert_in_step({**results[0], **results[1]}, t.AckResult)  # stored, and refused
    assert results[0]["ok"] and not results[1]["ok"]
    attempts = ok(http.get(f"/jobs/{first['id']}/attempts"))["attempts"]
    assert_in_step(attempts[0], t.Attempt)


def test_log_queue_worker_and_deletion_documents(http: httpx.Client) -> None:
    job = ok(http.post("/jobs", json={"queue": "drift"}))
    claimed = ok(http.post("/claim", json={"queues": ["drift"], "worker": WORKER}))["jobs"][0]
    entries = [{"stream": "stdout", "text": "hello"}]
    ok(http.post(f"/jobs/{job['id']}/logs", json={"entries": entries}))
    logs = ok(http.get(f"/jobs/{job['id']}/logs"))
    assert set(logs) == field_names(t.LogPage)
    assert_in_step(logs["entries"][0], t.LogEntry)
    assert_in_step(ok(http.get("/queues"))["queues"][0], t.Queue)
    assert_in_step(ok(http.get("/workers"))["workers"][0], t.WorkerInfo)
    ok(http.post("/queues/drift/pause"))
    ok(http.post("/jobs", json={"queue": "drift"}))
    [problem] = ok(http.get("/problems"))["problems"]
    assert_in_step(problem, t.Problem)
    ok(http.post("/queues/drift/resume"))
    ok(http.post(f"/jobs/{claimed['id']}/complete", json={"token": claimed["lease_token"]}))
    gone = ok(http.delete("/jobs", params={"ids": f"{job['id']},no-such-job"}))["results"]
    assert_in_step({**gone[0], **gone[1]}, t.Deletion)


def test_queue_limits_documents(http: httpx.Client) -> None:
    ok(http.post("/jobs", json={"queue": "drift"}))
    body = {"concurrency": 2, "rate": 10, "rate_period": 1}
    assert_in_step(ok(http.put("/queues/drift/limits", json=body)), t.QueueLimitsInfo)
    assert_in_step(ok(http.get("/queues/drift/limits")), t.QueueLimitsInfo)
    [queue] = ok(http.get("/queues"))["queues"]
    assert_in_step(queue, t.Queue)
    assert_in_step(queue["limits"], t.QueueLimits)
    assert_in_step(ok(http.delete("/queues/drift/limits")), t.QueueLimitsInfo)


def test_job_schema_in_openapi_matches_the_client(server: Server) -> None:
    document = ok(httpx.get(f"{server.url}/openapi.json", timeout=60))
    schema = document["components"]["schemas"]["JobOut"]
    # the documented job carries lease_token (a claim's answer), as ClaimedJob does
    assert set(schema["properties"]) == field_names(t.ClaimedJob) - {"created"}
