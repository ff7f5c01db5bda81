"""Connect's /tail follows a command job run by a real `jobq worker`, live, to its end."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import pytest

from jobq.client import Client
from tests.acceptance.conftest import WorkerProcess, wait_until
from tests.conftest import Server

pytestmark = pytest.mark.acceptance
GUID = "nightly-build"
SCRIPT = """
import os, sys, time
for i in range(3):
    print(f"tick {i}", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
print("done", flush=True)
"""


def test_tail_sees_lines_while_the_command_runs_and_closes_when_it_ends(
    server: Server,
    client: Client,
    start_worker: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    go = tmp_path / "go"
    start_worker("--queue", GUID, "--concurrency", "1")
    job = client.enqueue(
        queue=GUID, type="command", payload={"argv": [sys.executable, "-c", SCRIPT, str(go)]}
    )
    seen: list[str] = []
    closed = threading.Event()

    def tail() -> None:
        url = f"{server.url}/__api__/v1/content/{GUID}/jobs/{job.id}/tail"
        with httpx.stream("GET", url, timeout=120) as response:
            for line in response.iter_lines():
                if line.strip():
                    seen.append(orjson.loads(line)["data"].strip())
        closed.set()

    reader = threading.Thread(target=tail, daemon=True)
    reader.start()
    wait_until(lambda: len(seen) >= 3, timeout=90, what="three lines on the tail")
    assert seen[:3] == ["tick 0", "tick 1", "tick 2"]
    assert client.get(job.id).state == "running"  # the lines arrived while it ran
    assert not closed.is_set()
    go.touch()
    assert closed.wait(90), "the tail did not close after the job ended"
    assert seen[-1] == "done"
    assert client.get(job.id).state == "succeeded"
