"""`jobq enqueue`, `jobq enqueue-many` and `jobq jobs`: put jobs in, inspect and steer them."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from jobq.cli.common import (
    DEFAULT_URL,
    AsJson,
    Key,
    Url,
    call,
    console,
    headers,
    json_arg,
    listing,
    pairs,
    seg,
    show_job,
    state_of,
)

jobs_app = typer.Typer(help="Inspect and steer jobs.", no_args_is_help=True)
TYPE_HELP = "Job type [default: command for a payload with argv, else default]."


def enqueue(
    queue: Annotated[str, typer.Argument(help="Queue to put the job in.")],
    payload: Annotated[str, typer.Argument(help="JSON payload ('-' reads stdin).")] = "null",
    type: Annotated[str | None, typer.Option("--type", help=TYPE_HELP)] = None,
    priority: Annotated[int, typer.Option(help="Bigger runs first.")] = 0,
    delay: Annotated[float | None, typer.Option(help="Seconds before it may run.")] = None,
    meta: Annotated[list[str] | None, typer.Option(help="KEY=VALUE metadata (repeatable).")] = None,
    wait: Annotated[float | None, typer.Option(help="Wait up to N seconds for the result.")] = None,
    url: Url = DEFAULT_URL,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Enqueue one job."""
    text = sys.stdin.read() if payload == "-" else payload
    data = json_arg(text)
    body = {**_new_job(queue, _type_of(type, data), priority, delay, meta), "payload": data}
    job = call("POST", url, key, "/jobs", json=body)
    if wait:
        path = f"/jobs/{seg(job['id'])}"
        job = call("GET", url, key, path, params={"wait": wait}, timeout=wait + 10)
    show_job(job, as_json)
    if wait and job["state"] in ("failed", "cancelled"):
        raise typer.Exit(1)


def enqueue_many(
    queue: Annotated[str, typer.Argument(help="Queue to put the jobs in.")],
    source: Annotated[
        str, typer.Argument(help="JSON lines, one job's payload each ('-' reads stdin).")
    ],
    type: Annotated[str | None, typer.Option("--type", help=TYPE_HELP)] = None,
    priority: Annotated[int, typer.Option(help="Bigger runs first.")] = 0,
    delay: Annotated[float | None, typer.Option(help="Seconds before they may run.")] = None,
    meta: Annotated[list[str] | None, typer.Option(help="KEY=VALUE metadata (repeatable).")] = None,
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Jobs per request.")] = 500,
    url: Url = DEFAULT_URL,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Enqueue a job per line of a file, in batches, with a progress bar. Every line is read
    and checked first: a file with a line that is not JSON enqueues nothing."""
    from jobq.client import Client, ClientError

    payloads = _payload_lines(source)
    common = _new_job(queue, "default", priority, delay, meta)
    ids: list[str] = []
    with Client(url, key=key) as client, Progress(console=Console(stderr=True)) as progress:
        bar = progress.add_task(f"enqueue into {escape(queue)}", total=len(payloads))
        for start in range(0, len(payloads), batch):
            jobs = [
                {**common, "type": _type_of(type, p), "payload": p}
                for p in payloads[start : start + batch]
            ]
            try:
                ids += [r.id for r in client.enqueue_receipts(jobs)]
            except ClientError as exc:
                console.print(
                    f"{exc}; {len(ids)} of {len(payloads)} were enqueued before", style="red"
                )
                raise typer.Exit(1) from None
            progress.advance(bar, len(jobs))
    if as_json:
        print(json.dumps({"queue": queue, "ids": ids}))
    else:
        console.print(f"enqueued {len(ids)} jobs into {queue}")


def _type_of(given: str | None, payload: Any) -> str:
    """The type a job gets: the one given, else `command` for a payload with argv (what
    `jobq worker` runs as a command), else `default`."""
    if given is not None:
        return given
    return "command" if isinstance(payload, dict) and "argv" in payload else "default"


def _new_job(
    queue: str, type: str, priority: int, delay: float | None, meta: list[str] | None
) -> dict[str, Any]:
    """A new job's fields as the enqueue commands' options give them, but its payload."""
    job: dict[str, Any] = {
        "queue": queue,
        "type": type,
        "priority": priority,
        "metadata": pairs(meta),
    }
    if delay is not None:
        job["delay"] = delay
    return job


def _payload_lines(source: str) -> list[Any]:
    """The JSON value of every non-blank line of `source` ('-': stdin)."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {source}: {exc.strerror}") from None
    payloads = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                payloads.append(json.loads(line))
            except ValueError as exc:
                raise typer.BadParameter(f"line {number} is not JSON: {exc}") from None
    return payloads


@jobs_app.command("ls")
def jobs_ls(
    queue: Annotated[list[str] | None, typer.Option(help="Only these queues.")] = None,
    state: Annotated[list[str] | None, typer.Option(help="Only these states.")] = None,
    type: Annotated[list[str] | None, typer.Option("--type", help="Only these types.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    sort: Annotated[str, typer.Option(help="Sort field, '-' for descending.")] = "-created_at",
    url: Url = DEFAULT_URL,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """List jobs."""
    params: dict[str, Any] = {
        "queue": queue or [],
        "state": state or [],
        "type": type or [],
        "limit": limit,
        "sort": sort,
    }
    jobs = call("GET", url, key, "/jobs", params=params)["jobs"]
    listing(
        jobs,
        as_json,
        ("id", "queue", "type", "state", "prio", "attempt", "created"),
        lambda j: (
            j["id"],
            j["queue"],
            j["type"],
            state_of(j),
            str(j["priority"]),
            f"{j['attempt']}/{j['max_attempts']}",
            j["created_at"],
        ),
    )


@jobs_app.command("show")
def jobs_show(
    job_id: str, url: Url = DEFAULT_URL, key: Key = None, as_json: AsJson = False
) -> None:
    """Show one job."""
    show_job(call("GET", url, key, f"/jobs/{seg(job_id)}"), as_json)


@jobs_app.command("update")
def jobs_update(
    job_id: str,
    priority: Annotated[int | None, typer.Option(help="New priority (bigger runs first).")] = None,
    delay: Annotated[
        float | None, typer.Option(help="Run it this many seconds from now (a waiting job).")
    ] = None,
    meta: Annotated[
        list[str] | None, typer.Option(help="KEY=VALUE metadata, replacing it (repeatable).")
    ] = None,
    url: Url = DEFAULT_URL,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Change a waiting job's priority, when it runs, or its metadata."""
    body: dict[str, Any] = {}
    if priority is not None:
        body["priority"] = priority
    if delay is not None:
        body["run_at"] = datetime.fromtimestamp(time.time() + delay, UTC).isoformat()
    if meta:
        body["metadata"] = pairs(meta)
    if not body:
        raise typer.BadParameter("give --priority, --delay or --meta")
    show_job(call("PATCH", url, key, f"/jobs/{seg(job_id)}", json=body), as_json)


@jobs_app.command("rm")
def jobs_rm(
    job_ids: list[str], url: Url = DEFAULT_URL, key: Key = None, as_json: AsJson = False
) -> None:
    """Delete finished jobs."""
    results = call("DELETE", url, key, "/jobs", params={"ids": ",".join(job_ids)})["results"]
    if as_json:
        print(json.dumps(results, indent=2))
    for r in results if not as_json else []:
        note = "deleted" if r["deleted"] else r["error"]["message"]
        console.print(f"{r['id']}: {note}")
    if not all(r["deleted"] for r in results):
        raise typer.Exit(1)


@jobs_app.command("logs")
def jobs_logs(
    job_id: str,
    follow: Annotated[
        bool, typer.Option("-f", "--follow", help="Follow until the job ends.")
    ] = False,
    tail: Annotated[int | None, typer.Option(help="Only the last N lines.")] = None,
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Print a job's log."""
    params = {"tail": tail} if tail else {}
    data = call("GET", url, key, f"/jobs/{seg(job_id)}/logs", params=params)
    for entry in data["entries"]:
        _print_log(entry)
    if follow:
        _follow(url, key, job_id, data["last_seq"])


def _follow(url: str, key: str | None, job_id: str, after: int) -> None:
    path = f"{url.rstrip('/')}/api/v1/jobs/{seg(job_id)}/logs/stream"
    with httpx.stream(
        "GET", path, params={"after": after}, headers=headers(key), timeout=None
    ) as response:
        event = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "log":
                _print_log(json.loads(line[6:]))
            elif line.startswith("data: ") and event == "end":
                return


def _print_log(entry: dict[str, Any]) -> None:
    stream = sys.stderr if entry["stream"] == "stderr" else sys.stdout
    print(entry["text"].rstrip("\n"), file=stream, flush=True)
