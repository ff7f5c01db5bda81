"""The CLI as an operator lives in it (issue 29, items 5-8), against a real `jobq serve`:
tables at 80 and 200 columns that never cut an id or a header, ages, ids by prefix, errors on
stderr (JSON with --json) with the server's explanation, pages and metadata filters, a job
shown in full, `--wait` that runs out, live and gone workers, and the worker's log."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.acceptance.conftest import wait_until
from tests.conftest import Server, free_port

pytestmark = pytest.mark.acceptance
WIDTHS = (80, 200)


def jobq(
    server: Server | None, *args: str, columns: int = 200, key: str | None = None
) -> subprocess.CompletedProcess[str]:
    url = ["--url", server.url] if server is not None else []
    env = {**os.environ, "COLUMNS": str(columns), "JOBQ_KEY": key or ""}
    cmd = [sys.executable, "-m", "jobq", *args, *url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)


def enqueue(server: Server, **job: object) -> dict:
    response = httpx.post(f"{server.api}/jobs", json={"queue": "q", **job})
    response.raise_for_status()
    return response.json()


def hold(server: Server, queue: str, worker: str = "w1") -> dict:
    claim = {"queues": [queue], "worker": {"name": worker, "host": "h", "pid": 7}, "wait": 10}
    [held] = httpx.post(f"{server.api}/claim", json=claim, timeout=30).json()["jobs"]
    return held


def fail(server: Server, held: dict, message: str, **error: object) -> None:
    body = {"token": held["lease_token"], "retryable": False,
            "error": {"code": "exception", "message": message, **error}}  # fmt: skip
    httpx.post(f"{server.api}/jobs/{held['id']}/fail", json=body).raise_for_status()


def header_of(out: str) -> str:
    return out.splitlines()[0]


@pytest.mark.parametrize("columns", WIDTHS)
def test_jobs_ls_never_cuts_an_id_or_a_header_and_shows_ages(server: Server, columns: int):
    queue = "nightly-reports-for-the-finance-team"
    jobs = [enqueue(server, queue=queue, type="render_pdf") for _ in range(3)]
    failed = hold(server, queue)
    fail(server, failed, "ValueError: the ledger for March is missing " + "x" * 150)
    listed = jobq(server, "jobs", "ls", columns=columns)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= columns
    for job in jobs:
        assert any(job["id"] in line for line in lines), (job["id"], listed.stdout)
    header = header_of(listed.stdout).split()
    assert {"id", "queue", "state"} <= set(header)
    assert "…" not in header_of(listed.stdout)
    assert re.search(r"\b\d+s ago\b", listed.stdout)
    assert not re.search(r"\d{4}-\d\d-\d\dT", listed.stdout)  # ages, not timestamps
    assert "3 of 3 jobs" in listed.stdout
    if columns == 200:  # room for every column, the failed job's error among them
        assert header == ["id", "queue", "type", "state", "attempt", "created", "error"]
        assert "ValueError: the ledger for March is missing" in listed.stdout
        assert queue in listed.stdout


@pytest.mark.parametrize("columns", WIDTHS)
def test_the_other_tables_never_cut_a_header_or_a_name(server: Server, columns: int):
    enqueue(server, queue="emails")
    hold(server, "emails", worker="mailer-worker-on-host-with-a-long-name")
    for command in (("queues", "ls"), ("workers",), ("problems",)):
        shown = jobq(server, *command, columns=columns)
        assert shown.returncode == 0, shown.stderr
        assert max(len(line.rstrip()) for line in shown.stdout.splitlines()) <= columns
        assert "…" not in header_of(shown.stdout), shown.stdout
    queues = jobq(server, "queues", "ls", columns=columns).stdout
    assert header_of(queues).split()[:4] == ["queue", "scheduled", "queued", "running"]
    workers = jobq(server, "workers", columns=columns).stdout.splitlines()
    first = workers[0].index("status")  # a long name folds onto more lines, whole
    assert "".join(line[:first].strip() for line in workers[1:]) == (
        "mailer-worker-on-host-with-a-long-name"
    )


def test_errors_go_to_stderr_with_the_servers_explanation(server: Server):
    too_long = jobq(server, "enqueue", "q" * 300)
    assert too_long.returncode == 1 and too_long.stdout == ""
    assert "error: invalid request: queue (422 invalid)" in too_long.stderr
    assert "queue: String should have at most 200 characters" in too_long.stderr
    state = jobq(server, "jobs", "ls", "--state", "nope")
    assert state.returncode == 1 and state.stdout == ""
    assert "allowed: scheduled, queued, running, succeeded, failed, cancelled" in state.stderr

    as_json = jobq(server, "enqueue", "q" * 300, "--json")
    assert as_json.returncode == 1 and as_json.stdout == ""
    error = json.loads(as_json.stderr)["error"]
    assert (error["status"], error["code"]) == (422, "invalid")
    assert error["details"]["fields"][0]["field"] == "queue"
    usage = jobq(server, "enqueue", "q", "{not json", "--json")
    assert usage.returncode == 2 and usage.stdout == ""
    assert json.loads(usage.stderr)["error"]["code"] == "usage"
    gone = jobq(None, "jobs", "ls", "--json", "--url", f"http://127.0.0.1:{free_port()}")
    assert gone.returncode == 2 and gone.stdout == ""
    error = json.loads(gone.stderr)["error"]
    assert error["code"] == "unreachable" and "connection refused" in error["message"]


def test_a_job_is_named_by_the_start_of_its_id(server: Server):
    first, second = enqueue(server), enqueue(server)
    shared = os.path.commonprefix([first["id"], second["id"]])  # noqa: RUF071
    unique = second["id"][: len(shared) + 1]
    shown = jobq(server, "jobs", "show", unique)
    assert shown.returncode == 0, shown.stderr
    assert second["id"] in shown.stdout and first["id"] not in shown.stdout

    both = jobq(server, "jobs", "show", shared)
    assert both.returncode == 1 and both.stdout == ""
    assert f"{shared} begins the ids of 2 jobs: give more of the id" in both.stderr
    assert first["id"] in both.stderr and second["id"] in both.stderr
    as_json = json.loads(jobq(server, "jobs", "show", shared, "--json").stderr)["error"]
    assert as_json["code"] == "ambiguous"
    assert set(as_json["details"]["candidates"]) == {first["id"], second["id"]}
    none = jobq(server, "jobs", "show", "fff")
    assert none.returncode == 1 and "no job's id begins with fff" in none.stderr

    cancelled = jobq(server, "jobs", "cancel", unique.upper(), "--json")
    assert json.loads(cancelled.stdout)["id"] == second["id"]


def test_a_prefix_finds_only_the_callers_jobs(server: Server, server_db: str):
    db = ["--db", server_db]
    for name in ("ann", "bob"):
        assert jobq(None, "users", "add", name, *db).returncode == 0
    keys = {
        name: json.loads(jobq(None, "keys", "create", name, *db, "--json").stdout)["key"]
        for name in ("ann", "bob")
    }
    wait_until(lambda: httpx.get(f"{server.api}/jobs").status_code == 401, what="auth on")
    headers = {"Authorization": f"Bearer {keys['ann']}"}
    anns = httpx.post(f"{server.api}/jobs", json={"queue": "anns"}, headers=headers).json()
    prefix = anns["id"][:20]
    mine = jobq(server, "jobs", "show", prefix, key=keys["ann"])
    assert mine.returncode == 0 and anns["id"] in mine.stdout
    theirs = jobq(server, "jobs", "show", prefix, key=keys["bob"])
    assert theirs.returncode == 1 and anns["id"] not in theirs.stdout + theirs.stderr
    assert f"no job's id begins with {prefix}" in theirs.stderr


def test_jobs_ls_pages_counts_and_filters_by_metadata(server: Server):
    for n in range(7):
        enqueue(server, metadata={"team": "a" if n % 2 else "b", "n": str(n)})
    seen, page = [], jobq(server, "jobs", "ls", "--meta", "team=b", "--limit", "3")
    assert "3 of 4 jobs" in page.stdout
    while "next page: " in page.stdout:
        seen += re.findall(r"^[0-9a-f-]{36}", page.stdout, re.M)
        command = page.stdout.split("next page: ", 1)[1].strip()
        args = shlex.split(command)
        assert args[:3] == ["jobq", "jobs", "ls"] and "--after" in args
        page = jobq(None, *args[1:])
    seen += re.findall(r"^[0-9a-f-]{36}", page.stdout, re.M)
    assert "1 of 4 jobs" in page.stdout and len(set(seen)) == 4
    metadata = [httpx.get(f"{server.api}/jobs/{i}").json()["metadata"]["team"] for i in seen]
    assert set(metadata) == {"b"}

    many = [{"queue": "bulk"} for _ in range(1005)]
    httpx.post(f"{server.api}/jobs", json={"jobs": many}).raise_for_status()
    assert "5 of 1,005 jobs" in jobq(server, "jobs", "ls", "--queue", "bulk", "--limit", "5").stdout


def test_jobs_show_has_what_matters_and_a_traceback_as_text(server: Server):
    job = enqueue(server, payload={"to": "ada"}, metadata={"team": "a"}, max_attempts=2)
    held = hold(server, "q", worker="render-7")
    beat = {"token": held["lease_token"], "progress": {"step": 2, "total": 5,
                                                       "description": "halfway"}}  # fmt: skip
    httpx.post(f"{server.api}/jobs/{job['id']}/heartbeat", json=beat).raise_for_status()
    trace = 'Traceback (most recent call last):\n  File "tasks.py", line 3, in send\nKeyError: x'
    fail(server, held, "KeyError: 'x'", details={"traceback": trace})
    shown = jobq(server, "jobs", "show", job["id"][:30], columns=100)
    assert shown.returncode == 0, shown.stderr
    lines = [line.rstrip() for line in shown.stdout.splitlines()]
    assert re.match(r"^state +failed$", lines[1]), lines[:3]
    assert any(re.match(r"^attempt +1 of 2$", line) for line in lines)
    assert any(re.match(r"^progress +2 of 5 \(40%\): halfway$", line) for line in lines)
    assert any(re.match(r"^last worker +render-7 \(host h, pid 7\)$", line) for line in lines)
    assert '  "to": "ada"' in lines and "team = a" in lines
    assert '  File "tasks.py", line 3, in send' in lines  # the traceback's own lines
    assert "exception: KeyError: 'x'" in lines
    attempts = lines[lines.index("attempts") + 1 :]
    assert attempts[0].split() == ["#", "started", "took", "worker", "outcome", "error"]
    assert attempts[1].split()[0] == "1" and "render-7" in attempts[1]


def test_enqueue_wait_that_runs_out_says_so_and_exits_3(server: Server):
    waited = jobq(server, "enqueue", "nobody-works-here", "--wait", "1")
    assert waited.returncode == 3
    assert re.search(r"job [0-9a-f-]{36} is still queued after 1s", waited.stderr)
    as_json = jobq(server, "enqueue", "nobody-works-here", "--wait", "1", "--json")
    assert as_json.returncode == 3 and json.loads(as_json.stdout)["state"] == "queued"
    assert json.loads(as_json.stderr)["error"]["code"] == "timeout"


def test_workers_tells_live_from_gone(server: Server, server_db: str):
    for name in ("old", "new"):
        enqueue(server, queue=name)
        held = hold(server, name, worker=f"{name}-worker")
        httpx.post(f"{server.api}/jobs/{held['id']}/complete", json={"token": held["lease_token"]})
    with sqlite3.connect(server_db.removeprefix("sqlite:///")) as db:  # seen an hour ago
        db.execute("UPDATE workers SET last_seen = last_seen - 3600 WHERE name = 'old-worker'")
    rows = {line.split()[0]: line.split() for line in jobq(server, "workers").stdout.splitlines()}
    assert rows["worker"][:2] == ["worker", "status"]
    assert rows["new-worker"][1] == "live" and rows["old-worker"][1] == "gone"
    assert "1h ago" in " ".join(rows["old-worker"])
    listed = json.loads(jobq(server, "workers", "--json").stdout)
    assert {w["name"]: w["live"] for w in listed} == {"new-worker": True, "old-worker": False}


def test_users_ls_says_yes_and_no(tmp_path: Path):
    db = ["--db", f"sqlite:///{tmp_path / 'auth.db'}"]
    jobq(None, "users", "add", "root", "--admin", *db)
    jobq(None, "users", "add", "ann", *db)
    rows = {
        line.split()[0]: line.split() for line in jobq(None, "users", "ls", *db).stdout.splitlines()
    }
    assert rows["root"][1] == "yes" and rows["ann"][1] == "no"
    assert "True" not in jobq(None, "users", "ls", *db).stdout
    listed = json.loads(jobq(None, "users", "ls", *db, "--json").stdout)
    assert {u["name"]: u["admin"] for u in listed} == {"root": True, "ann": False}


TASKS = """
import jobq
worker = jobq.Worker(queues=["work"])

@worker.task("ok")
def ok(job):
    return {"done": True}

@worker.task("boom")
def boom(job):
    raise ValueError("the ledger is missing")
"""


def test_the_worker_logs_a_line_per_job_and_a_summary(server: Server, tmp_path: Path):
    (tmp_path / "ledger_tasks.py").write_text(TASKS)
    good = [enqueue(server, queue="work", type="ok") for _ in range(2)]
    bad = enqueue(server, queue="work", type="boom", max_attempts=1)
    cmd = [sys.executable, "-m", "jobq", "worker", "--app", "ledger_tasks:worker", "--burst",
           "--url", server.url]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    ran = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    assert ran.returncode == 0, ran.stderr
    log = ran.stderr
    for job in good:
        assert f"job {job['id']} started: ok on work, attempt 1 of 3" in log
        assert re.search(rf"job {job['id']} succeeded in \d+\.\d+s", log)
    assert re.search(rf"job {bad['id']} failed after \d+\.\d+s: ValueError: the ledger", log)
    summary = log.strip().splitlines()[-1]
    assert re.search(r"stopped: ran 3 jobs in \S+: 2 succeeded, 1 failed$", summary), summary


def test_the_worker_says_once_in_one_line_that_it_cannot_reach_the_server():
    url = f"http://127.0.0.1:{free_port()}"
    cmd = [sys.executable, "-m", "jobq", "worker", "--url", url]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(4)  # several claims fail meanwhile
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    unreachable = [line for line in out.splitlines() if "cannot reach" in line]
    assert len(unreachable) == 1, out
    assert unreachable[0].endswith(f"cannot reach jobq at {url} (connection refused): retrying")
    assert "Traceback" not in out and "Error(" not in out


def test_worker_help_reads_well_at_80_columns():
    shown = jobq(None, "worker", "--help", columns=80)
    lines = shown.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any(line.strip().startswith("-q, --queue QUEUE  Queue to claim from (repeatable).")
               for line in lines)  # fmt: skip
    assert not re.search(r"<[a-z]", shown.stdout)  # no <list[str]> or <int range> types
