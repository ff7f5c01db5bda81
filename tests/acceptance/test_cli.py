"""The `jobq` CLI against a real server."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from tests.conftest import Server

pytestmark = pytest.mark.acceptance


def jobq(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "jobq", *args, "--url", server.url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_enqueue_list_show_cancel_and_queues(server: Server):
    out = jobq(server, "enqueue", "mail", '{"to": "ada"}', "--meta", "team=x", "--json")
    assert out.returncode == 0, out.stderr
    job = json.loads(out.stdout)
    assert job["payload"] == {"to": "ada"} and job["metadata"] == {"team": "x"}
    listed = json.loads(jobq(server, "jobs", "ls", "--queue", "mail", "--json").stdout)
    assert [j["id"] for j in listed["jobs"]] == [job["id"]] and listed["total"] == 1
    shown = jobq(server, "jobs", "show", job["id"])
    assert job["id"] in shown.stdout and "queued" in shown.stdout
    assert jobq(server, "queues", "pause", "mail").returncode == 0
    queues = json.loads(jobq(server, "queues", "ls", "--json").stdout)
    assert queues[0]["paused"] is True and queues[0]["counts"]["queued"] == 1
    cancelled = json.loads(jobq(server, "jobs", "cancel", job["id"], "--json").stdout)
    assert cancelled["state"] == "cancelled"
    assert jobq(server, "jobs", "rm", job["id"]).returncode == 0
    missing = jobq(server, "jobs", "show", job["id"])
    assert missing.returncode == 1 and "not_found" in missing.stderr


def test_enqueue_wait_prints_the_result_and_logs_show_lines(server: Server):
    proc = subprocess.Popen(
        [sys.executable, "-m", "jobq", "enqueue", "q", "1", "--wait", "30", "--json",
         "--url", server.url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    claim = {"queues": ["q"], "worker": {"name": "w"}, "wait": 20}
    [held] = httpx.post(f"{server.api}/claim", json=claim, timeout=30).json()["jobs"]
    entries = {"entries": [{"text": "one"}, {"text": "two"}]}
    httpx.post(f"{server.api}/jobs/{held['id']}/logs", json=entries)
    done = {"token": held["lease_token"], "result": {"answer": 42}}
    httpx.post(f"{server.api}/jobs/{held['id']}/complete", json=done)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert json.loads(stdout)["result"] == {"answer": 42}
    logs = jobq(server, "jobs", "logs", held["id"])
    assert logs.stdout.splitlines() == ["one", "two"]


def test_logs_follow_prints_lines_as_they_arrive_and_ends_with_the_job(server: Server):
    job = httpx.post(f"{server.api}/jobs", json={"queue": "q"}).json()
    claim = {"queues": ["q"], "worker": {"name": "w"}, "wait": 20}
    [held] = httpx.post(f"{server.api}/claim", json=claim, timeout=30).json()["jobs"]
    follower = subprocess.Popen(
        [sys.executable, "-m", "jobq", "jobs", "logs", "-f", job["id"], "--url", server.url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert follower.stdout is not None
    for i in range(3):
        httpx.post(f"{server.api}/jobs/{job['id']}/logs", json={"entries": [{"text": f"l{i}"}]})
        assert follower.stdout.readline().strip() == f"l{i}"  # printed while the job runs
    httpx.post(f"{server.api}/jobs/{job['id']}/complete", json={"token": held["lease_token"]})
    rest, _ = follower.communicate(timeout=30)
    assert follower.returncode == 0 and rest == ""


def test_serve_options_come_from_flags_then_env_then_toml(tmp_path, monkeypatch):
    config = tmp_path / "jobq.toml"
    config.write_text("[serve]\nmax-body = 1000\nlease-seconds = 7\n")
    db = f"sqlite:///{tmp_path / 'c.db'}"
    big = {"queue": "q", "payload": "x" * 3000}
    from_file = Server(db, "--config", str(config)).start()
    try:
        assert httpx.post(f"{from_file.api}/jobs", json=big).status_code == 413
        job = httpx.post(f"{from_file.api}/jobs", json={"queue": "q"}).json()
        assert job["lease_seconds"] == 7
    finally:
        from_file.stop()
    monkeypatch.setenv("JOBQ_MAX_BODY", "100000")
    from_env = Server(db, "--config", str(config)).start()
    try:
        assert httpx.post(f"{from_env.api}/jobs", json=big).status_code == 201
    finally:
        from_env.stop()
    from_flag = Server(db, "--config", str(config), "--max-body", "500").start()
    try:
        small_but_over = {"queue": "q", "payload": "x" * 600}
        assert httpx.post(f"{from_flag.api}/jobs", json=small_but_over).status_code == 413
    finally:
        from_flag.stop()


def test_workers_and_problems_list_what_the_server_sees(server: Server):
    assert jobq(server, "problems").stdout.strip() == "no problems"
    for _ in range(2):
        assert jobq(server, "enqueue", "reports", "--type", "build").returncode == 0
    claim = {"queues": ["reports"], "worker": {"name": "cli-w", "host": "h1", "pid": 42}}
    httpx.post(f"{server.api}/claim", json=claim, timeout=30).raise_for_status()
    workers = json.loads(jobq(server, "workers", "--json").stdout)
    assert [(w["name"], w["jobs_held"]) for w in workers] == [("cli-w", 1)]
    table = jobq(server, "workers")
    assert table.returncode == 0 and "cli-w" in table.stdout and "reports" in table.stdout

    assert jobq(server, "queues", "pause", "reports").returncode == 0
    [problem] = json.loads(jobq(server, "problems", "--json").stdout)
    found = (problem["kind"], problem["queue"], problem["job_count"])
    assert found == ("queue_paused", "reports", 1)
    table = jobq(server, "problems")
    assert table.returncode == 0
    assert "queue_paused" in table.stdout and "queue reports is paused" in table.stdout


def test_values_with_brackets_are_printed_as_they_are(server: Server):
    """Results and messages are printed as text: Rich markup in them once crashed the table
    ("closing tag '[/x]' doesn't match any open tag")."""
    httpx.post(f"{server.api}/jobs", json={"queue": "q"}).raise_for_status()
    claim = {"queues": ["q"], "worker": {"name": "w"}}
    [held] = httpx.post(f"{server.api}/claim", json=claim, timeout=30).json()["jobs"]
    done = {"token": held["lease_token"], "result": {"said": "[/oops] [b]"}}
    httpx.post(f"{server.api}/jobs/{held['id']}/complete", json=done).raise_for_status()
    shown = jobq(server, "jobs", "show", held["id"])
    assert shown.returncode == 0, shown.stderr
    assert "[/oops] [b]" in shown.stdout
    missing = jobq(server, "jobs", "show", "no such [job]?")  # one path segment, quoted
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert "error: job not found (404 not_found)" in missing.stderr


def test_jobs_update_changes_priority_metadata_and_when_it_runs(server: Server):
    job = json.loads(jobq(server, "enqueue", "q", "--json").stdout)
    out = jobq(server, "jobs", "update", job["id"], "--priority", "7", "--meta", "team=y",
               "--json")  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    changed = json.loads(out.stdout)
    assert (changed["priority"], changed["metadata"]) == (7, {"team": "y"})
    assert changed["state"] == "queued"
    delayed = jobq(server, "jobs", "update", job["id"], "--delay", "3600", "--json")
    later = json.loads(delayed.stdout)
    assert later["state"] == "scheduled" and later["run_at"] > job["run_at"]
    nothing = jobq(server, "jobs", "update", job["id"])
    assert nothing.returncode == 2 and "--priority" in nothing.stderr


def test_enqueue_many_sends_every_line_in_batches_or_nothing_when_a_line_is_bad(
    server: Server, tmp_path
):
    lines = tmp_path / "jobs.jsonl"
    lines.write_text("".join(f'{{"n": {n}}}\n' for n in range(1203)) + "\n")  # a blank line
    out = jobq(server, "enqueue-many", "bulk", str(lines), "--type", "t", "--meta", "src=file",
               "--batch", "500", "--json")  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    ids = json.loads(out.stdout)["ids"]
    assert len(ids) == len(set(ids)) == 1203
    listed = httpx.get(f"{server.api}/jobs", params={"queue": "bulk", "limit": 1000,
                                                     "sort": "seq"}).json()["jobs"]  # fmt: skip
    assert [j["payload"]["n"] for j in listed] == list(range(1000))  # in the file's order
    assert {(j["type"], j["metadata"]["src"]) for j in listed} == {("t", "file")}

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"n": 1}\n{"n": \n')
    refused = jobq(server, "enqueue-many", "other", str(bad))
    assert refused.returncode == 2 and "line 2 is not JSON" in refused.stderr
    assert httpx.get(f"{server.api}/jobs", params={"queue": "other"}).json()["jobs"] == []
