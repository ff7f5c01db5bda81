"""`jobq enqueue`, `jobq enqueue-many` and `jobq jobs`: put jobs in, inspect and steer them."""

from __future__ import annotations

import json
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

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
    fail,
    headers,
    job_id,
    json_arg,
    pairs,
    seg,
)
from jobq.cli.output import count, error, span_of
from jobq.cli.view import jobs_table, show_job

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
    """Enqueue one job. With --wait: exit 1 if it fails or is cancelled, 3 if it has not
    finished in time."""
    text = sys.stdin.read() if payload == "-" else payload
    data = json_arg(text)
    body = {**_new_job(queue, _type_of(type, data), priority, delay, meta), "payload": data}
    job = call("POST", url, key, "/jobs", as_json=as_json, json=body)
    if wait:
        job = _wait_for(url, key, job, wait, as_json)
    show_job(job, as_json)
    if wait and job["state"] in ("failed", "cancelled"):
        raise typer.Exit(1)
    if wait and job["state"] not in FINISHED:
        error(
            f"job {job['id']} is still {job['state']} after {span_of(wait)}: not waiting longer",
            "timeout",
            as_json,
            id=job["id"],
            state=job["state"],
        )
        raise typer.Exit(3)


FINISHED = ("succeeded", "failed", "cancelled")
WAIT_STEP = 60.0  # seconds of one long poll (the server allows up to 300)


def _wait_for(
    url: str, key: str | None, job: dict[str, Any], seconds: float, as_json: bool
) -> dict[str, Any]:
    """The job once it has finished, or as it is when `seconds` have passed."""
    give_up = time.monotonic() + seconds
    path = f"/jobs/{seg(job['id'])}"
    while job["state"] not in FINISHED and (left := give_up - time.monotonic()) > 0:
        step = min(left, WAIT_STEP)
        params = {"wait": step}
        job = call("GET", url, key, path, timeout=step + 10, as_json=as_json, params=params)
    return dict(job)


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
    """Enqueue a job per line of a file. In batches, with a progress bar; every line is
    read and checked first: a file with a line that is not JSON enqueues nothing."""
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
                _refused_batch(exc, len(ids), len(payloads), as_json)
            progress.advance(bar, len(jobs))
    if as_json:
        print(json.dumps({"queue": queue, "ids": ids}))
    else:
        console.print(f"enqueued {len(ids)} jobs into {queue}")


def _refused_batch(exc: Exception, done: int, total: int, as_json: bool) -> NoReturn:
    """A batch of enqueue-many went wrong: say what, and how many went in before (exit 1 for
    a refusal, 2 for a server that cannot be reached)."""
    from jobq.client import ServerError

    before = f"{done} of {total} were enqueued before"
    if isinstance(exc, ServerError):
        details = exc.details if isinstance(exc.details, dict) else {}
        error(f"{exc.message} ({before})", exc.code, as_json, exc.status, **details)
        raise typer.Exit(1)
    fail(f"{exc} ({before})", "unreachable", as_json, 2, enqueued=done)


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
    meta: Annotated[
        list[str] | None, typer.Option(help="Only jobs with this KEY=VALUE metadata.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Jobs per page.")] = 50,
    sort: Annotated[str, typer.Option(help="Sort field, '-' for descending.")] = "-created_at",
    after: Annotated[
        str | None, typer.Option(help="The next page: the cursor the last page printed.")
    ] = None,
    url: Url = DEFAULT_URL,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """List jobs, a page at a time (newest first): how many match, and how to get the next
    page. --json prints the page: jobs, next_cursor, total."""
    params: dict[str, Any] = {
        "queue": queue or [],
        "state": state or [],
        "type": type or [],
        "limit": limit,
        "sort": sort,
        "total": "true",
        **{f"meta.{k}": v for k, v in pairs(meta).items()},
    }
    if after:
        params["cursor"] = after
    page = call("GET", url, key, "/jobs", as_json=as_json, params=params)
    if as_json:
        print(json.dumps(page, indent=2))
        return
    jobs = page["jobs"]
    if jobs:
        jobs_table(jobs)
    total = count(page.get("total", len(jobs)), page.get("total_capped", False))
    console.print(f"{len(jobs)} of {total} jobs")
    if page.get("next_cursor"):
        console.print(f"next page: {_next_page(page['next_cursor'])}", soft_wrap=True)


def _next_page(cursor: str) -> str:
    """This command again, with --after the cursor of the page after this one."""
    args, skip = [], False
    for arg in sys.argv[1:]:
        if skip or arg == "--after":
            skip = not skip and arg == "--after"
            continue
        if not arg.startswith("--after="):
            args.append(arg)
    return shlex.join(["jobq", *args, "--after", cursor])


@jobs_app.command("show")
def jobs_show(
    job: Annotated[str, typer.Argument(help="Job id, or the start of one.")],
    url: Url = DEFAULT_URL,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Show one job: state, worker, progress, payload, metadata, result, error, attempts."""
    found = job_id(url, key, job, as_json)
    shown = call("GET", url, key, f"/jobs/{seg(found)}", as_json=as_json)
    if as_json:
        show_job(shown, True)
        return
    attempts = call("GET", url, key, f"/jobs/{seg(found)}/attempts")["attempts"]
    show_job(shown, False, attempts)


ID = Annotated[str, typer.Argument(help="Job id, or the start of one.")]


@jobs_app.command("update")
def jobs_update(
    job: ID,
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
    path = f"/jobs/{seg(job_id(url, key, job, as_json))}"
    show_job(call("PATCH", url, key, path, as_json=as_json, json=body), as_json)


@jobs_app.command("rm")
def jobs_rm(
    jobs: Annotated[list[str], typer.Argument(help="Job ids, or the start of each.")],
    url: Url = DEFAULT_URL,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Delete finished jobs."""
    ids = ",".join(job_id(url, key, j, as_json) for j in jobs)
    results = call("DELETE", url, key, "/jobs", as_json=as_json, params={"ids": ids})["results"]
    if as_json:
        print(json.dumps(results, indent=2))
    for r in results if not as_json else []:
        if r["deleted"]:
            console.print(f"{r['id']}: deleted")
        else:
            error(f"{r['id']}: {r['error']['message']}", r["error"]["code"], False)
    if not all(r["deleted"] for r in results):
        raise typer.Exit(1)


@jobs_app.command("logs")
def jobs_logs(
    job: ID,
    follow: Annotated[
        bool, typer.Option("-f", "--follow", help="Follow until the job ends.")
    ] = False,
    tail: Annotated[int | None, typer.Option(help="Only the last N lines.")] = None,
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Print a job's log."""
    params = {"tail": tail} if tail else {}
    found = job_id(url, key, job)
    data = call("GET", url, key, f"/jobs/{seg(found)}/logs", params=params)
    for entry in data["entries"]:
        _print_log(entry)
    if follow:
        _follow(url, key, found, data["last_seq"])


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
