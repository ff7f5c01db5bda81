"""The `jobq` command: serve, enqueue, jobs, queues.

Every `serve` option is also a JOBQ_* environment variable and a key of the [serve] table of
the --config TOML file; flags win over variables, variables over the file.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from jobq.cli_auth import register as register_auth
from jobq.config import DEFAULT_DB, Config, parse_mounts, parse_proxies, read_toml
from jobq.errors import JobqError
from jobq.model import Defaults

app = typer.Typer(help="jobq: an HTTP job server.", no_args_is_help=True, add_completion=False)
jobs_app = typer.Typer(help="Inspect and steer jobs.", no_args_is_help=True)
queues_app = typer.Typer(help="Inspect, pause and resume queues.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")
app.add_typer(queues_app, name="queues")
register_auth(app, queues_app)  # users, keys, queues grant|revoke|owner
db_app = typer.Typer(help="Manage the job database.", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console(markup=False)  # names and messages may hold [brackets]: not markup

Url = Annotated[str, typer.Option("--url", envvar="JOBQ_URL", help="jobq server URL.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
Key = Annotated[
    str | None, typer.Option("--key", envvar="JOBQ_KEY", help="API key (sent as Bearer).")
]
DEFAULT_URL = "http://127.0.0.1:8080"
SERVE = Config()  # `serve`'s option defaults are these (and JOB's): each written once, there
JOB = SERVE.defaults


def _config_defaults(ctx: typer.Context, param: Any, path: str | None) -> str | None:
    """Load --config early so its values become the defaults of the other options."""
    if path:
        ctx.default_map = {**(ctx.default_map or {}), **read_toml(path)}
    return path


@app.command()
def serve(
    db: Annotated[
        str,
        typer.Option(
            envvar="JOBQ_DB",
            help="sqlite:///PATH[?cache_mib=N] or postgresql://...[?pool_size=N]",
        ),
    ] = SERVE.db,
    host: Annotated[str, typer.Option(envvar="JOBQ_HOST", help="Address to bind.")] = SERVE.host,
    port: Annotated[int, typer.Option(envvar="JOBQ_PORT", help="Port to bind.")] = SERVE.port,
    log_level: Annotated[
        str, typer.Option(envvar="JOBQ_LOG_LEVEL", help="debug, info, warning, error.")
    ] = SERVE.log_level,
    max_body: Annotated[
        int, typer.Option(envvar="JOBQ_MAX_BODY", help="Largest request body in bytes (413 above).")
    ] = SERVE.max_body,
    callback_allow: Annotated[
        list[str] | None,
        typer.Option(
            envvar="JOBQ_CALLBACK_ALLOW",
            help="CIDR whose private addresses callbacks may reach (repeatable).",
        ),
    ] = None,
    callback_timeout: Annotated[
        float,
        typer.Option(
            envvar="JOBQ_CALLBACK_TIMEOUT",
            min=0.1,
            help="Seconds a callback's whole delivery may take (then it is retried later).",
        ),
    ] = SERVE.callback_timeout,
    mount: Annotated[
        list[str] | None,
        typer.Option(
            envvar="JOBQ_MOUNT",
            help="Serve an interface at another prefix: NAME=/prefix, or NAME=/ for the "
            "root, beside the others (repeatable).",
        ),
    ] = None,
    insecure: Annotated[
        bool,
        typer.Option(
            envvar="JOBQ_INSECURE", help="Allow a non-loopback bind without authentication."
        ),
    ] = SERVE.insecure,
    access_log: Annotated[
        bool, typer.Option(envvar="JOBQ_ACCESS_LOG", help="Log every request.")
    ] = SERVE.access_log,
    auth_fail_limit: Annotated[
        int,
        typer.Option(
            envvar="JOBQ_AUTH_FAIL_LIMIT",
            help="Failed authentications per client address per window before 429.",
        ),
    ] = SERVE.auth_fail_limit,
    auth_fail_window: Annotated[
        float,
        typer.Option(envvar="JOBQ_AUTH_FAIL_WINDOW", help="That window, in seconds."),
    ] = SERVE.auth_fail_window,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            envvar="JOBQ_TRUSTED_PROXY",
            help="Address or network of a reverse proxy whose X-Forwarded-For and "
            "X-Forwarded-Proto are believed (repeatable); from anyone else they are ignored.",
        ),
    ] = None,
    lease_seconds: Annotated[
        float, typer.Option(envvar="JOBQ_LEASE_SECONDS", help="Default lease of a claimed job.")
    ] = JOB.lease_seconds,
    max_attempts: Annotated[
        int, typer.Option(envvar="JOBQ_MAX_ATTEMPTS", help="Default attempts per job.")
    ] = JOB.max_attempts,
    result_ttl: Annotated[
        float | None,
        typer.Option(envvar="JOBQ_RESULT_TTL", help="Default seconds a finished job is kept."),
    ] = JOB.result_ttl,
    max_log_bytes: Annotated[
        int | None,
        typer.Option(
            envvar="JOBQ_MAX_LOG_BYTES",
            min=1,
            help="Largest log a job keeps, in bytes; output beyond it is cut (and marked).",
        ),
    ] = JOB.max_log_bytes,
    idle_after: Annotated[
        float,
        typer.Option(
            envvar="JOBQ_IDLE_AFTER",
            min=0.0,
            help="Seconds waiting jobs go untaken, with no worker for them, before jobq "
            "reports a no_worker problem (Vidispine shows the jobs WAITING).",
        ),
    ] = JOB.idle_after,
    auto_migrate: Annotated[
        bool,
        typer.Option(
            envvar="JOBQ_AUTO_MIGRATE",
            help="Apply database migrations at start (else refuse an old schema).",
        ),
    ] = SERVE.auto_migrate,
    metrics_queues: Annotated[
        int,
        typer.Option(
            envvar="JOBQ_METRICS_QUEUES",
            min=0,
            help="Queues labelled by name in /metrics (the first seen); later ones as (other).",
        ),
    ] = SERVE.metrics_queues,
    max_queues_per_user: Annotated[
        int,
        typer.Option(
            envvar="JOBQ_MAX_QUEUES_PER_USER",
            min=0,
            help="Queues a user may create by enqueueing into a new name (0: only "
            "administrators create queues).",
        ),
    ] = SERVE.max_queues_per_user,
    loop_tick: Annotated[
        float,
        typer.Option(
            envvar="JOBQ_LOOP_TICK",
            min=0.0,
            help="Seconds between the timers that measure event loop lag (0: off).",
        ),
    ] = SERVE.loop_tick,
    config: Annotated[
        str | None,
        typer.Option(
            envvar="JOBQ_CONFIG",
            help="TOML file with a [serve] table.",
            is_eager=True,
            callback=_config_defaults,
        ),
    ] = None,
) -> None:
    """Run the job server."""
    from jobq.server import run

    try:
        mounts = parse_mounts(mount or [])
        proxies = parse_proxies(trusted_proxy or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    _check_db_url(db)
    defaults = Defaults(lease_seconds=lease_seconds, max_attempts=max_attempts,
                        result_ttl=result_ttl, max_log_bytes=max_log_bytes,
                        idle_after=idle_after)  # fmt: skip
    run(Config(db=db, host=host, port=port, log_level=log_level, max_body=max_body,
               callback_allow=callback_allow or [], callback_timeout=callback_timeout,
               mounts=mounts, insecure=insecure,
               access_log=access_log, defaults=defaults, auth_fail_limit=auth_fail_limit,
               auth_fail_window=auth_fail_window, trusted_proxies=proxies,
               auto_migrate=auto_migrate,
               metrics_queues=metrics_queues, loop_tick=loop_tick,
               max_queues_per_user=max_queues_per_user))  # fmt: skip


def _check_db_url(db: str) -> None:
    """Fail before serving when the URL is unusable or its driver is not installed."""
    from jobq.store import open_store

    try:
        open_store(db)
    except (ValueError, ImportError) as exc:
        console.print(f"cannot use --db {db}: {exc}", style="red")
        raise typer.Exit(2) from None


@db_app.command("migrate")
def db_migrate(
    db: Annotated[
        str, typer.Option(envvar="JOBQ_DB", help="sqlite:///PATH or postgresql://...")
    ] = DEFAULT_DB,
) -> None:
    """Bring the database schema up to date (safe to run on a live database)."""
    from jobq.store.migrate import migrate_db

    _check_db_url(db)
    try:
        applied = migrate_db(db)
    except JobqError as exc:
        console.print(exc.message, style="red")
        raise typer.Exit(1) from None
    if applied:
        console.print(f"applied migrations {', '.join(str(v) for v in applied)}")
    else:
        console.print("the schema is up to date")


@app.command()
def enqueue(
    queue: Annotated[str, typer.Argument(help="Queue to put the job in.")],
    payload: Annotated[str, typer.Argument(help="JSON payload ('-' reads stdin).")] = "null",
    type: Annotated[str, typer.Option("--type", help="Job type.")] = "default",
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
    body = {**_new_job(queue, type, priority, delay, meta), "payload": _json_arg(text)}
    job = _call("POST", url, key, "/jobs", json=body)
    if wait:
        path = f"/jobs/{_seg(job['id'])}"
        job = _call("GET", url, key, path, params={"wait": wait}, timeout=wait + 10)
    _show_job(job, as_json)
    if wait and job["state"] in ("failed", "cancelled"):
        raise typer.Exit(1)


@app.command("enqueue-many")
def enqueue_many(
    queue: Annotated[str, typer.Argument(help="Queue to put the jobs in.")],
    source: Annotated[
        str, typer.Argument(help="JSON lines, one job's payload each ('-' reads stdin).")
    ],
    type: Annotated[str, typer.Option("--type", help="Job type of every job.")] = "default",
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
    common = _new_job(queue, type, priority, delay, meta)
    ids: list[str] = []
    with Client(url, key=key) as client, Progress(console=Console(stderr=True)) as progress:
        bar = progress.add_task(f"enqueue into {escape(queue)}", total=len(payloads))
        for start in range(0, len(payloads), batch):
            jobs = [{**common, "payload": p} for p in payloads[start : start + batch]]
            try:
                ids += [r.id for r in client.enqueue_receipts(jobs)]
            except ClientError as exc:
                console.print(f"{exc}; {len(ids)} of {len(payloads)} were enqueued before",
                              style="red")  # fmt: skip
                raise typer.Exit(1) from None
            progress.advance(bar, len(jobs))
    if as_json:
        print(json.dumps({"queue": queue, "ids": ids}))
    else:
        console.print(f"enqueued {len(ids)} jobs into {queue}")


def _new_job(queue: str, type: str, priority: int, delay: float | None,
             meta: list[str] | None) -> dict[str, Any]:  # fmt: skip
    """A new job's fields as the enqueue commands' options give them, but its payload."""
    job: dict[str, Any] = {"queue": queue, "type": type, "priority": priority,
                           "metadata": _pairs(meta)}  # fmt: skip
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


PREFETCH_HELP = ("Jobs claimed ahead of the free slots, held until one frees (default: one "
                 "batch while jobs take under 0.1 s on average; 0: none).")  # fmt: skip


@app.command()
def worker(
    queue: Annotated[
        list[str] | None, typer.Option("--queue", "-q", help="Queue to claim from (repeatable).")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(min=1, max=10_000, help="Jobs run at once.")
    ] = None,
    app_ref: Annotated[
        str | None, typer.Option("--app", help="module:attr of a jobq.Worker with Python tasks.")
    ] = None,
    lease: Annotated[
        float | None, typer.Option(min=0.1, help="Lease seconds per claim (default: the job's).")
    ] = None,
    grace: Annotated[
        float | None,
        typer.Option(min=0, help="Seconds a job gets to stop (on shutdown; SIGTERM to SIGKILL)."),
    ] = None,
    batch: Annotated[
        int | None, typer.Option(min=1, max=1000, help="Jobs per claim and per acknowledgement.")
    ] = None,
    prefetch: Annotated[
        int | None,
        typer.Option(min=0, max=10_000, help=PREFETCH_HELP),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Worker name (default: host-pid).")] = None,
    max_jobs: Annotated[
        int | None,
        typer.Option(min=1, help="Exit after running this many jobs (a fresh process then)."),
    ] = None,
    burst: Annotated[
        bool,
        typer.Option(
            "--burst", help="Exit once no job is waiting and none is running (claims do not wait)."
        ),
    ] = False,
    log_level: Annotated[
        str, typer.Option(envvar="JOBQ_LOG_LEVEL", help="debug, info, warning, error.")
    ] = "info",
    loop: Annotated[
        str, typer.Option(help="Event loop: auto (uvloop if installed), uvloop, asyncio.")
    ] = "auto",
    url: Url = DEFAULT_URL,
    key: Key = None,
) -> None:
    """Claim jobs and run them: commands (payload argv) and Python tasks (--app)."""
    from jobq.worker.main import main as run_worker

    overrides = {"queues": queue, "concurrency": concurrency, "lease": lease, "grace": grace,
                 "batch": batch, "name": name, "prefetch": prefetch,
                 "burst": burst or None, "max_jobs": max_jobs}  # fmt: skip
    run_worker(url, app_ref, overrides, log_level, key, loop)


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
    params: dict[str, Any] = {"queue": queue or [], "state": state or [], "type": type or [],
                              "limit": limit, "sort": sort}  # fmt: skip
    jobs = _call("GET", url, key, "/jobs", params=params)["jobs"]
    _listing(jobs, as_json, ("id", "queue", "type", "state", "prio", "attempt", "created"),
             lambda j: (j["id"], j["queue"], j["type"], _state(j), str(j["priority"]),
                        f"{j['attempt']}/{j['max_attempts']}", j["created_at"]))  # fmt: skip


@jobs_app.command("show")
def jobs_show(
    job_id: str, url: Url = DEFAULT_URL, key: Key = None, as_json: AsJson = False
) -> None:
    """Show one job."""
    _show_job(_call("GET", url, key, f"/jobs/{_seg(job_id)}"), as_json)


@jobs_app.command("cancel")
def jobs_cancel(
    job_id: str,
    reason: Annotated[str | None, typer.Option(help="Why.")] = None,
    url: Url = DEFAULT_URL,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Cancel a job (a running one is asked to stop)."""
    body = {"reason": reason}
    _show_job(_call("POST", url, key, f"/jobs/{_seg(job_id)}/cancel", json=body), as_json)


@jobs_app.command("retry")
def jobs_retry(
    job_id: str, url: Url = DEFAULT_URL, key: Key = None, as_json: AsJson = False
) -> None:
    """Run a finished job again, as a new job."""
    _show_job(_call("POST", url, key, f"/jobs/{_seg(job_id)}/retry"), as_json)


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
        body["metadata"] = _pairs(meta)
    if not body:
        raise typer.BadParameter("give --priority, --delay or --meta")
    _show_job(_call("PATCH", url, key, f"/jobs/{_seg(job_id)}", json=body), as_json)


@jobs_app.command("rm")
def jobs_rm(
    job_ids: list[str], url: Url = DEFAULT_URL, key: Key = None, as_json: AsJson = False
) -> None:
    """Delete finished jobs."""
    results = _call("DELETE", url, key, "/jobs", params={"ids": ",".join(job_ids)})["results"]
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
    data = _call("GET", url, key, f"/jobs/{_seg(job_id)}/logs", params=params)
    for entry in data["entries"]:
        _print_log(entry)
    if follow:
        _follow(url, key, job_id, data["last_seq"])


@queues_app.command("ls")
def queues_ls(url: Url = DEFAULT_URL, key: Key = None, as_json: AsJson = False) -> None:
    """Every queue with its counts per state."""
    queues = _call("GET", url, key, "/queues")["queues"]
    states = ("scheduled", "queued", "running", "succeeded", "failed", "cancelled")
    _listing(queues, as_json, ("queue", *states, "oldest queued", "paused"),
             lambda q: (q["name"], *(str(q["counts"][s]) for s in states),
                        q["oldest_queued_at"] or "-", "yes" if q["paused"] else "no"))  # fmt: skip


@queues_app.command("pause")
def queues_pause(name: str, url: Url = DEFAULT_URL, key: Key = None) -> None:
    """Stop handing out jobs from a queue."""
    _call("POST", url, key, f"/queues/{_seg(name)}/pause")
    console.print(f"{name}: paused")


@queues_app.command("resume")
def queues_resume(name: str, url: Url = DEFAULT_URL, key: Key = None) -> None:
    """Hand out jobs from a paused queue again."""
    _call("POST", url, key, f"/queues/{_seg(name)}/resume")
    console.print(f"{name}: resumed")


@app.command("workers")
def workers_ls(url: Url = DEFAULT_URL, key: Key = None, as_json: AsJson = False) -> None:
    """Workers seen claiming: their queues, when last seen, how many jobs each holds."""
    workers = _call("GET", url, key, "/workers")["workers"]
    _listing(workers, as_json, ("worker", "host", "pid", "queues", "last seen", "jobs held"),
             lambda w: (w["name"], w["host"], str(w["pid"]), ", ".join(w["queues"]),
                        w["last_seen"], str(w["jobs_held"])))  # fmt: skip


@app.command("problems")
def problems_ls(url: Url = DEFAULT_URL, key: Key = None, as_json: AsJson = False) -> None:
    """Why jobs cannot go on: paused queues, no worker, attempts failing, deadlines near."""
    problems = _call("GET", url, key, "/problems")["problems"]
    if not problems and not as_json:
        console.print("no problems")
        return
    _listing(problems, as_json, ("problem", "queue", "type", "jobs", "what is wrong"),
             lambda p: (p["kind"], p["queue"], p["type"] or "-", str(p["job_count"]),
                        p["message"]))  # fmt: skip


# --- helpers ---


def _listing(items: list[dict[str, Any]], as_json: bool, columns: Sequence[str],
             row: Callable[[dict[str, Any]], Sequence[str]]) -> None:  # fmt: skip
    """`items` as JSON, or as a table of `columns` with one `row(item)` per item."""
    if as_json:
        print(json.dumps(items, indent=2))
        return
    table = Table(*columns)
    for item in items:
        table.add_row(*row(item))
    console.print(table)


def _seg(value: str) -> str:
    """`value` as one path segment: an id or name with / ? # or % in it stays itself."""
    return quote(value, safe="")


def _headers(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def _call(
    method: str, url: str, key: str | None, path: str, timeout: float = 30.0, **kwargs: Any
) -> Any:
    try:
        response = httpx.request(method, f"{url.rstrip('/')}/api/v1{path}", timeout=timeout,
                                 headers=_headers(key), **kwargs)  # fmt: skip
    except httpx.HTTPError as exc:
        console.print(f"cannot reach jobq at {url}: {exc}", style="red")
        raise typer.Exit(2) from None
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            message = f"{error['code']}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            message = response.text
        console.print(f"{response.status_code} {message}", style="red")
        raise typer.Exit(1)
    return response.json() if response.content else None


def _follow(url: str, key: str | None, job_id: str, after: int) -> None:
    path = f"{url.rstrip('/')}/api/v1/jobs/{_seg(job_id)}/logs/stream"
    with httpx.stream(
        "GET", path, params={"after": after}, headers=_headers(key), timeout=None
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


def _show_job(job: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(job, indent=2))
        return
    table = Table("field", "value", show_header=False)
    for key in ("id", "queue", "type", "state", "priority", "attempt", "max_attempts",
                "created_at", "started_at", "finished_at", "result", "error", "exit_code",
                "retry_of", "retried_by"):  # fmt: skip
        value = job.get(key)
        if key == "state":
            value = _state(job)
        table.add_row(key, value if isinstance(value, str) else json.dumps(value))
    console.print(table)


def _state(job: dict[str, Any]) -> str:
    return f"{job['state']} (cancel requested)" if job.get("cancel_requested") else job["state"]


def _json_arg(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"payload is not JSON: {exc}") from None


def _pairs(values: list[str] | None) -> dict[str, str]:
    out = {}
    for value in values or []:
        key, sep, val = value.partition("=")
        if not sep:
            raise typer.BadParameter(f"--meta wants KEY=VALUE, got {value!r}")
        out[key] = val
    return out


def main() -> None:
    app()


if __name__ == "__main__":
    main()
