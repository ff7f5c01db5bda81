"""The README's commands, run in order as written, against a real server (issue 29, item 4).

The steps come from README.md itself (tests/acceptance/tourkit.py: the `<!-- tour: ... -->`
marker before each sh and python block says how a reader runs it), so a README command that
stops working fails this test. They run in one `sh` (dash where sh is dash), variables one
command sets there for the next, in a scratch directory with the checkout's `.venv/bin` on
PATH (as `source .venv/bin/activate` puts it), except `make`, which runs in the checkout.

Only the address and the database change, each through what the README documents for it:
`make run` gets PORT and DB of its own (and HOST=127.0.0.1 where it names another address),
the README's address http://127.0.0.1:8080 becomes the server's, and the `jobq` commands
read JOBQ_URL and JOBQ_DB (`--url`/`--db` otherwise). What each step promises is then
checked through the API: exit statuses, job states, results and logs, not a table's text.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.acceptance.conftest import alive, wait_until
from tests.acceptance.tourkit import Ran, Started, Step, Terminal, TourError, descendants, tour
from tests.conftest import free_port

pytestmark = pytest.mark.acceptance

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
ADDRESS = "http://127.0.0.1:8080"  # where the README's commands find the server `make run` starts


@dataclass(frozen=True)
class Site:
    """A server `make run` starts: its port and its SQLite file."""

    port: int
    db: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def make_run(self, command: str) -> str:
        """`command` (a `make run`) with this site's PORT and DB, on loopback."""
        code, sep, comment = command.partition("#")
        for name, value in (("HOST", "127.0.0.1"), ("PORT", self.port), ("DB", self.db)):
            code, found = re.subn(rf"\b{name}=\S*", f"{name}={value}", code)
            if not found and name != "HOST":
                code = f"{code.rstrip()} {name}={value} "
        return code + sep + comment


@dataclass
class Walk:
    """The tour so far: what each command did, and what runs in the background."""

    terminal: Terminal
    site: Site
    scratch: Path
    ran: list[tuple[Step, Ran]] = field(default_factory=list)
    running: list[Started] = field(default_factory=list)

    def take(self, step: Step) -> None:
        where = f"README.md line {step.line}"
        if step.role == "skip":
            return
        if step.role == "file":
            first, _, _ = step.text.partition("\n")
            name = re.fullmatch(r"#\s*(\S+\.py)\s*", first)
            assert name, f"{where}: a file block's first line names it (# tasks.py)"
            (self.scratch / name[1]).write_text(step.text)
            return
        command = self.here(step)
        if step.role in ("serve", "serve-stop"):
            self.serve(step, command)
        elif step.role == "background":
            self.running.append(self.terminal.start(command))
        else:
            ran = self.terminal.run(command)
            assert ran.status == 0, f"{where} failed:\n{ran}"
            self.ran.append((step, ran))

    def here(self, step: Step) -> str:
        """The step's command, pointed at this tour's server."""
        text = step.text.replace(ADDRESS, self.site.url)
        if step.lang == "python":
            script = self.scratch / f"readme-line-{step.line}.py"
            script.write_text(text)
            return f"python3 {script.name}"
        return text

    def serve(self, step: Step, command: str) -> None:
        """`make run`, in the checkout: this tour's server, or another one started and stopped."""
        assert command.startswith("make run"), f"README.md line {step.line}: serve is make run"
        first = step.role == "serve"
        site = self.site if first else Site(free_port(), self.scratch / f"{step.line}.db")
        started = self.terminal.start(site.make_run(command), cwd=REPO)

        def ready() -> bool:
            assert alive(started.pid), f"README.md line {step.line} exited:\n{started.output()}"
            try:
                return httpx.get(f"{site.url}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, 120, f"README.md line {step.line} to serve")  # make may install first
        if first:
            self.running.append(started)
        else:
            started.stop()

    def output(self, start: str) -> Ran:
        """What the README's command starting with `start` printed."""
        for step, ran in self.ran:
            if step.text.startswith(start):
                return ran
        raise AssertionError(f"README.md has no command starting {start!r}: update this test")


def reader_env(site: Site) -> dict[str, str]:
    """A reader's environment: no JOBQ_* or make variables of ours; jobq on PATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JOBQ_", "MAKE", "MFLAGS", "VIRTUAL_ENV"))
    }
    env["PATH"] = f"{REPO / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["JOBQ_URL"] = site.url
    env["JOBQ_DB"] = f"sqlite:///{site.db}"
    return env


@pytest.fixture
def walk(tmp_path: Path) -> Iterator[Walk]:
    site = Site(free_port(), tmp_path / "jobq.db")
    scratch, logs = tmp_path / "terminal", tmp_path / "logs"
    scratch.mkdir()
    logs.mkdir()
    terminal = Terminal(scratch, reader_env(site), logs)
    walk = Walk(terminal, site, scratch)
    yield walk
    terminal.close()
    for _, ran in walk.ran:  # shown when the test fails
        print(ran)
    for started in terminal.started:
        print(f"--- {started.command} ---\n{started.output()[-3000:]}")


def test_the_readme_tour_runs_as_written(walk: Walk) -> None:
    steps = tour(README.read_text())
    for step in steps:
        walk.take(step)
    for started in walk.running:  # servers and workers stay up, auth turned on included
        assert alive(started.pid), f"stopped: {started.command}\n{started.output()}"
    key = walk.terminal.value("KEY")
    assert key, "the README's users block leaves the administrator's key in KEY"
    with httpx.Client(base_url=f"{walk.site.url}/api/v1", timeout=60) as anyone:
        assert anyone.get("/jobs").status_code == 401  # the first user turned auth on
    headers = {"authorization": f"Bearer {key}"}
    with httpx.Client(base_url=f"{walk.site.url}/api/v1", headers=headers, timeout=60) as api:
        check_curl_tour(walk, api)
        check_command_job(walk, api)
        check_python_tasks(walk, api)
        check_workers_key(walk, api)


def check_curl_tour(walk: Walk, api: httpx.Client) -> None:
    """The curl tour's job: enqueued, claimed, logged, completed with its result."""
    shown = json.loads(walk.output("curl -s $B/jobs/$ID").out)
    assert (shown["state"], shown["result"]) == ("succeeded", {"message_id": 42})
    job_id = walk.terminal.value("ID")
    assert shown["id"] == job_id
    entries = api.get(f"/jobs/{job_id}/logs").json()["entries"]
    assert [(e["stream"], e["text"]) for e in entries] == [("stdout", "sent")]


def check_command_job(walk: Walk, api: httpx.Client) -> None:
    """`jobq enqueue default '{"argv": ...}' --wait 30` ran the command on the worker."""
    walk.output("jobq enqueue default")
    [job] = api.get("/jobs", params={"queue": "default"}).json()["jobs"]
    assert (job["type"], job["state"], job["result"]) == ("command", "succeeded", {"exit_code": 0})
    entries = api.get(f"/jobs/{job['id']}/logs").json()["entries"]
    assert "hello" in [e["text"].strip() for e in entries]


def check_python_tasks(walk: Walk, api: httpx.Client) -> None:
    """tasks.py's worker ran every send_email job: the CLI's, the client's and its batch."""
    assert walk.output("import jobq").out.splitlines()[0] == "{'message_id': 42}"
    query: dict[str, str | int] = {"queue": "emails", "type": "send_email", "limit": 1000}

    def finished() -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = api.get("/jobs", params=query).json()["jobs"]
        return jobs if all(j["state"] == "succeeded" for j in jobs) else []

    jobs = wait_until(finished, 60, "the send_email jobs to succeed")
    assert len(jobs) > 100  # one from `jobq enqueue`, one and a batch of 100 from Python
    assert {json.dumps(j["result"]) for j in jobs} == {'{"message_id": 42}'}
    first = min(jobs, key=lambda j: j["seq"])
    entries = api.get(f"/jobs/{first['id']}/logs").json()["entries"]
    assert "sending to ada@example.com" in [e["text"] for e in entries]


def check_workers_key(walk: Walk, api: httpx.Client) -> None:
    """`jobq worker -q emails --key "$BOBS_KEY"` runs emails' jobs with the worker role only:
    a command job enqueued now is run by that worker (the keyless ones are refused)."""
    [bobs] = [s for s in walk.running if "$BOBS_KEY" in s.command]
    command = {"argv": ["echo", "from bob's worker"]}
    made = api.post("/jobs", json={"queue": "emails", "type": "command", "payload": command})
    job = api.get(f"/jobs/{made.json()['id']}", params={"wait": 30}).json()
    assert job["state"] == "succeeded", job
    assert job["worker"]["pid"] in (bobs.pid, *descendants(bobs.pid))


def test_a_block_without_a_marker_is_an_error() -> None:
    with pytest.raises(TourError, match="line 3: a sh block without"):
        tour("# x\n\n```sh\nmake run\n```\n")
    with pytest.raises(TourError, match="gives 2 roles to 3 commands"):
        tour("<!-- tour: run; run -->\n```sh\na\nb \\\n  c\nd\n```\n")
    with pytest.raises(TourError, match="a skip says why"):
        tour("<!-- tour: skip -->\n```sh\na\n```\n")
    steps = tour("<!-- tour: run; background -->\n```sh\n# hi\nA=$(b \\\n  c)\n\nd &\n```\n")
    assert [(s.line, s.role, s.text) for s in steps] == [
        (4, "run", "A=$(b \\\n  c)"),
        (7, "background", "d &"),
    ]
