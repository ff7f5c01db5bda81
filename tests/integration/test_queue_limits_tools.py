"""Queue flow limits through the Python client (`Client`, `AsyncClient`) and the CLI
(`jobq queues limit`, the limits column of `jobq queues ls`), in this process against a real
server in a thread, each effect checked through the API or a claim."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from jobq.cli.main import app as cli
from jobq.cli.queues import limits_text, parse_rate, rate_text
from jobq.client import AsyncClient, Client, InvalidRequest, QueueLimits, QueueLimitsInfo
from jobq.config import Config
from tests.reliability.inprocess import serve_in_thread


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("limits") / "jobq.db"
    with serve_in_thread(Config(db=f"sqlite:///{db}", log_level="warning")) as base:
        yield base


def jobq(url: str, *args: str, code: int = 0) -> Any:
    """`jobq ARGS` against the server: its result (exit code checked)."""
    result = CliRunner().invoke(cli, list(args), env={"JOBQ_URL": url, "COLUMNS": "200"})
    assert result.exit_code == code, (args, result.output, result.exception)
    return result


def limits_of(url: str, queue: str) -> dict[str, Any]:
    answer = httpx.get(f"{url}/api/v1/queues/{queue}/limits", timeout=30)
    answer.raise_for_status()
    return dict(answer.json())


def test_the_client_sets_reads_and_clears_limits(url: str) -> None:
    with Client(url, timeout=60) as client:
        for _ in range(4):
            client.enqueue("sync-q")
        info = client.set_queue_limits(
            "sync-q", QueueLimits(concurrency=2, rate=100, rate_period=60)
        )
        assert info == QueueLimitsInfo("sync-q", 2, 100, 60.0, None, None, {}, False, 0)
        assert len(client.claim(["sync-q"], "w", max=10)) == 2
        read = client.queue_limits("sync-q")
        assert (read.running, read.limits) == (2, QueueLimits(2, 100, 60.0))
        [queue] = [q for q in client.queues() if q.name == "sync-q"]
        assert queue.limits == QueueLimits(2, 100, 60.0)
        with pytest.raises(InvalidRequest, match="rate"):
            client.set_queue_limits("sync-q", QueueLimits(rate=5))
        cleared = client.clear_queue_limits("sync-q")
        assert (cleared.limits, cleared.running) == (QueueLimits(), 2)
        [queue] = [q for q in client.queues() if q.name == "sync-q"]
        assert queue.limits is None


async def test_the_async_client_does_the_same(url: str) -> None:
    async with AsyncClient(url, timeout=60) as client:
        for _ in range(3):
            await client.enqueue("async-q")
        info = await client.set_queue_limits("async-q", QueueLimits(concurrency=1))
        assert info == QueueLimitsInfo("async-q", 1, None, None, None, None, {}, False, 0)
        assert len(await client.claim(["async-q"], "w", max=10)) == 1
        assert (await client.queue_limits("async-q")).running == 1
        listed = {q.name: q.limits for q in await client.queues()}
        assert listed["async-q"] == QueueLimits(concurrency=1)
        with pytest.raises(InvalidRequest):
            await client.set_queue_limits("async-q", QueueLimits(concurrency=0))
        assert (await client.clear_queue_limits("async-q")).limits == QueueLimits()
        assert len(await client.claim(["async-q"], "w", max=10)) == 2


def test_the_cli_limits_a_queue_shows_it_and_clears_it(url: str) -> None:
    for _ in range(5):
        httpx.post(f"{url}/api/v1/jobs", json={"queue": "cli-q"}, timeout=30).raise_for_status()
    shown = jobq(url, "queues", "limit", "cli-q").stdout
    assert "concurrency  none" in shown and "rate         none" in shown
    set_ = jobq(url, "queues", "limit", "cli-q", "--concurrency", "3", "--rate", "100/1m")
    assert "concurrency  3" in set_.stdout and "100/1m" in set_.stdout
    assert limits_of(url, "cli-q") | {"running": 0} == {
        "queue": "cli-q", "concurrency": 3, "rate": 100, "rate_period": 60.0, "per_key": None,
        "aging": None, "weights": {}, "paused": False, "running": 0,
    }  # fmt: skip
    listed = jobq(url, "queues", "ls").stdout
    [row] = [line for line in listed.splitlines() if line.startswith("cli-q")]
    assert row.rstrip().endswith("conc 3, 100/1m")
    as_json = json.loads(jobq(url, "queues", "ls", "--json").stdout)
    [queue] = [q for q in as_json if q["name"] == "cli-q"]
    assert queue["limits"] == {
        "concurrency": 3, "rate": 100, "rate_period": 60.0, "per_key": None, "aging": None,
        "weights": {},
    }  # fmt: skip
    doc = json.loads(jobq(url, "queues", "limit", "cli-q", "--rate", "10/90", "--json").stdout)
    assert (doc["concurrency"], doc["rate"], doc["rate_period"]) == (None, 10, 90.0)
    assert "10/90s" in jobq(url, "queues", "limit", "cli-q").stdout
    keyed = jobq(url, "queues", "limit", "cli-q", "--per-key", "2", "--rate", "10/90")
    assert "per key      2" in keyed.stdout and limits_of(url, "cli-q")["per_key"] == 2
    [row] = [line for line in jobq(url, "queues", "ls").stdout.splitlines() if "cli-q" in line]
    assert row.rstrip().endswith("10/90s, per key 2")
    aged = jobq(url, "queues", "limit", "cli-q", "--aging", "10m", "--rate", "10/90")
    assert "aging        10m" in aged.stdout and limits_of(url, "cli-q")["aging"] == 600.0
    bad = CliRunner().invoke(
        cli, ["queues", "limit", "cli-q", "--aging", "soon"], env={"JOBQ_URL": url}
    )
    assert bad.exit_code == 2 and "--aging 'soon' is not a PERIOD" in bad.stderr
    jobq(url, "queues", "limit", "cli-other", "--concurrency", "1")
    cleared = json.loads(jobq(url, "queues", "limit", "cli-q", "--clear", "--json").stdout)
    assert (cleared["concurrency"], cleared["rate"]) == (None, None)
    listed = jobq(url, "queues", "ls").stdout
    [row] = [line for line in listed.splitlines() if line.startswith("cli-q")]
    assert row.rstrip().endswith("-")
    jobq(url, "queues", "limit", "cli-other", "--clear")
    unlimited = jobq(url, "queues", "ls").stdout  # no queue has limits: no such column
    assert "paused" in unlimited.splitlines()[0] and "limits" not in unlimited


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--rate", "100"], "is not N/PERIOD"),
        (["--rate", "100/1w"], "is not N/PERIOD"),
        (["--rate", "x/1m"], "is not N/PERIOD"),
        (["--clear", "--concurrency", "2"], "--clear removes every limit"),
        (["--concurrency", "0"], "concurrency"),
        (["--rate", "5/0s"], "period"),
    ],
)
def test_cli_mistakes_go_to_stderr_with_a_failing_exit(
    url: str, args: list[str], says: str
) -> None:
    jobq(url, "queues", "limit", "bad-q", "--concurrency", "7")
    result = CliRunner().invoke(
        cli, ["queues", "limit", "bad-q", *args], env={"JOBQ_URL": url, "COLUMNS": "200"}
    )
    assert result.exit_code != 0 and result.stdout == ""
    assert says in result.stderr and "error" in result.stderr
    as_json = CliRunner().invoke(
        cli, ["queues", "limit", "bad-q", *args, "--json"], env={"JOBQ_URL": url}
    )
    error = json.loads(as_json.stderr)["error"]
    assert as_json.exit_code != 0 and says in error["message"] + json.dumps(error["details"])
    assert limits_of(url, "bad-q")["concurrency"] == 7  # unchanged


def test_rates_are_read_and_written_as_operators_write_them() -> None:
    assert parse_rate("100/1m") == (100, 60.0)
    assert parse_rate(" 5/30s ") == (5, 30.0)
    assert parse_rate("2/1.5") == (2, 1.5)
    assert parse_rate("1/2H") == (1, 7200.0)
    assert parse_rate("7/1d") == (7, 86400.0)
    assert [parse_rate(t) for t in ("100", "/1m", "1.5/1m", "1/m", "1/1w", "-1/1m")] == [None] * 6
    assert [rate_text(100, p) for p in (60.0, 1.0, 90.0, 7200.0, 86400.0, 1.5)] == [
        "100/1m", "100/1s", "100/90s", "100/2h", "100/1d", "100/1.5s",
    ]  # fmt: skip
    assert limits_text(None) == "-" and limits_text({"concurrency": 1200}) == "conc 1,200"
    both = {"concurrency": 3, "rate": 100, "rate_period": 60.0}
    assert limits_text(both) == "conc 3, 100/1m"
