"""The CLI's commands run in this process against a real server in a thread: an operator's
day (enqueue, list, show, retry, cancel, delete by ids and by filter, queues purged and
deleted, a burst worker running commands) with each effect checked through the API.

tests/acceptance drives the same commands as subprocesses at fixed terminal widths; here
they run in process so that what they do is also counted by the coverage floor."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from jobq.cli.main import app as cli
from jobq.config import Config
from tests.reliability.inprocess import serve_in_thread


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("cli") / "jobq.db"
    with serve_in_thread(Config(db=f"sqlite:///{db}", log_level="warning")) as base:
        yield base


def run(url: str, *args: str, code: int = 0) -> Any:
    """`jobq ARGS` against the server; its stdout as JSON when --json was given."""
    result = CliRunner().invoke(cli, list(args), env={"JOBQ_URL": url, "COLUMNS": "200"})
    assert result.exit_code == code, (args, result.output, result.exception)
    if "--json" in args and code == 0 and result.stdout.strip():
        return json.loads(result.stdout)
    return result.output


def api(url: str, path: str) -> Any:
    answer = httpx.get(f"{url}/api/v1{path}", timeout=30)
    answer.raise_for_status()
    return answer.json()


def enqueue(url: str, queue: str, payload: dict[str, Any], *more: str) -> str:
    doc = run(url, "enqueue", queue, json.dumps(payload), "--json", *more)
    return str(doc["id"])


def test_list_show_and_page_through_jobs(url: str) -> None:
    ids = [
        enqueue(url, "lists", {"n": i}, "--type", "t", "--meta", f"batch={i % 2}") for i in range(5)
    ]
    page = run(url, "jobs", "ls", "--queue", "lists", "--limit", "2", "--json")
    assert len(page["jobs"]) == 2 and page["next_cursor"]
    rest = run(url, "jobs", "ls", "--queue", "lists", "--after", page["next_cursor"], "--json")
    assert {j["id"] for j in page["jobs"] + rest["jobs"]} == set(ids)
    odd = run(url, "jobs", "ls", "--queue", "lists", "--meta", "batch=1", "--json")
    assert sorted(j["payload"]["n"] for j in odd["jobs"]) == [1, 3]
    text = run(url, "jobs", "ls", "--queue", "lists", "--limit", "2")
    assert "2 of 5" in text and page["next_cursor"] in text
    shown = run(url, "jobs", "show", ids[0][:13])  # a unique start of the id
    assert ids[0] in shown and "queued" in shown
    as_json = run(url, "jobs", "show", ids[0], "--json")
    assert as_json["payload"] == {"n": 0}


def test_bulk_work_by_ids_and_by_filter(url: str) -> None:
    ids = [enqueue(url, "bulky", {"n": i}, "--type", "t") for i in range(6)]
    cancelled = run(url, "jobs", "cancel", ids[0], ids[1], "--json")
    assert cancelled is not None
    assert {api(url, f"/jobs/{i}")["state"] for i in ids[:2]} == {"cancelled"}
    retried = run(url, "jobs", "retry", ids[0], "--json")
    assert retried is not None
    assert api(url, f"/jobs/{ids[0]}")["retried_by"]
    run(url, "jobs", "retry", ids[0], code=1)  # a second retry is refused, naming the first
    run(url, "jobs", "cancel", "--queue", "bulky", "--state", "queued", "--yes")
    states = {api(url, f"/jobs/{i}")["state"] for i in ids[2:]}
    assert states == {"cancelled"}
    operations = run(url, "jobs", "operations", "--json")
    assert operations
    run(url, "jobs", "delete", ids[5], "--yes")
    assert httpx.get(f"{url}/api/v1/jobs/{ids[5]}").status_code == 404


def test_queues_are_listed_paused_purged_and_deleted(url: str) -> None:
    enqueue(url, "typo", {"n": 1}, "--type", "t")
    listed = run(url, "queues", "ls", "--json")
    assert "typo" in json.dumps(listed)
    run(url, "queues", "pause", "typo")
    assert queue(url, "typo")["paused"] is True
    run(url, "queues", "resume", "typo")
    run(url, "queues", "purge", "typo", "--yes")
    run(url, "queues", "delete", "typo", "--yes")
    assert queue(url, "typo") is None


def queue(url: str, name: str) -> dict[str, Any] | None:
    answer = api(url, "/queues")
    listed = answer["queues"] if isinstance(answer, dict) else answer
    return next((q for q in listed if q["name"] == name), None)


def test_mistakes_are_explained_on_stderr(url: str) -> None:
    result = CliRunner().invoke(
        cli, ["enqueue", "", "{}", "--json"], env={"JOBQ_URL": url, "COLUMNS": "200"}
    )
    assert result.exit_code != 0
    error = json.loads(result.stderr)
    assert "queue" in json.dumps(error)
    missing = CliRunner().invoke(cli, ["jobs", "show", "ffffffff"], env={"JOBQ_URL": url})
    assert missing.exit_code != 0 and "error" in missing.stderr


def test_a_burst_worker_runs_commands_and_stops(url: str, tmp_path: Path) -> None:
    ok = enqueue(url, "cmds", {"argv": [sys.executable, "-c", "print('hello')"]})
    failing = {"argv": [sys.executable, "-c", "import sys; sys.exit(3)"]}
    body = {"queue": "cmds", "type": "command", "payload": failing, "max_attempts": 1}
    bad = httpx.post(f"{url}/api/v1/jobs", json=body, timeout=30).json()["id"]
    run(url, "worker", "--queue", "cmds", "--burst", "--concurrency", "2")
    assert api(url, f"/jobs/{ok}")["state"] == "succeeded"
    assert api(url, f"/jobs/{bad}")["state"] == "failed"
    logs = run(url, "jobs", "logs", ok)
    assert "hello" in logs
    workers = run(url, "workers", "--json")
    assert workers
