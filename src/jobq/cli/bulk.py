"""`jobq jobs retry|cancel|delete` on several jobs at once, by ids or by filter, `jobq jobs
operations`, and `jobq queues purge|delete`: the native API's bulk routes.

By ids, each job is done at once and reported on its own line. By filter (`--queue`,
`--type`, `--state`, `--meta`, times), the command first asks the server how many jobs match,
asks for confirmation showing that count (unless `--yes`), starts the operation and follows
its progress until it ends (Ctrl-C stops following, not the operation: `jobq jobs operations
ID` shows it later, `--cancel` stops it).
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from jobq.cli.common import DEFAULT_URL, AsJson, Key, Url, call, console, fail, job_id, pairs, seg
from jobq.cli.output import count, err, error
from jobq.cli.view import show_job

VERB = {"retry": "Retry", "cancel": "Cancel", "delete": "Delete", "purge": "Delete"}
DONE = {"retry": "retried", "cancel": "cancelled", "delete": "deleted", "purge": "deleted"}
POLL = 0.5  # seconds between two looks at a running operation
# the status a single-job route would have answered with a result's error code
STATUS = {"not_found": 404, "forbidden": 403, "conflict": 409, "invalid": 422}

Ids = Annotated[
    list[str] | None,
    typer.Argument(help="Job ids, or the start of each (or give a filter instead)."),
]
Queues = Annotated[list[str] | None, typer.Option("--queue", help="Only these queues.")]
Types = Annotated[list[str] | None, typer.Option("--type", help="Only these types.")]
States = Annotated[list[str] | None, typer.Option("--state", help="Only these states.")]
Meta = Annotated[list[str] | None, typer.Option("--meta", help="KEY=VALUE metadata.")]
Moment = Annotated[str | None, typer.Option(help="ISO 8601 time, e.g. 2024-05-01T12:00Z.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
NoWait = Annotated[
    bool, typer.Option("--no-wait", help="Start the operation and print it; do not follow it.")
]


def _filter(
    queue: list[str] | None,
    type: list[str] | None,
    state: list[str] | None,
    meta: list[str] | None,
    times: dict[str, str | None],
) -> dict[str, Any]:
    """The API's `filter` from the options given (an empty one: every job the action may
    take in every queue the caller may manage)."""
    out: dict[str, Any] = {}
    for name, values in (("queues", queue), ("types", type), ("states", state)):
        if values:
            out[name] = [v for value in values for v in value.split(",") if v]
    if meta:
        out["metadata"] = pairs(meta)
    out.update({k: v for k, v in times.items() if v is not None})
    return out


def _describe(selection: dict[str, Any]) -> str:
    parts = [f"{k} {', '.join(v) if isinstance(v, list) else v}" for k, v in selection.items()]
    return "; ".join(parts) if parts else "every queue you may manage"


def bulk_jobs(
    action: str,
    ids: list[str] | None,
    selection: dict[str, Any],
    options: dict[str, Any],
) -> None:
    """Run `action` on `ids`, or on the jobs `selection` matches (confirmed first)."""
    url, key, as_json = options["url"], options["key"], options["as_json"]
    extra = {"reason": options["reason"]} if options.get("reason") else {}
    path = f"/jobs/bulk/{action}"
    if ids and selection:
        raise typer.BadParameter("give job ids or a filter (--queue, --type, ...), not both")
    if ids:
        body = {"ids": [job_id(url, key, i, as_json) for i in ids], **extra}
        _report_each(action, call("POST", url, key, path, as_json=as_json, json=body), as_json)
        return
    asked = {"filter": selection, "dry_run": True}
    counted = call("POST", url, key, path, as_json=as_json, json=asked)
    matched = int(counted["matched"])
    if not matched:
        _nothing(as_json, selection)
        return
    _confirm(action, matched, counted["capped"], _describe(selection), options["yes"])
    op = call("POST", url, key, path, as_json=as_json, json={"filter": selection, **extra})
    follow(url, key, op, matched, as_json, options["no_wait"])


def _nothing(as_json: bool, selection: dict[str, Any]) -> None:
    if as_json:
        print(json.dumps({"matched": 0, "filter": selection}))
    else:
        console.print(f"no jobs match ({_describe(selection)})")


def _confirm(action: str, matched: int, capped: bool, what: str, yes: bool) -> None:
    if yes:
        return
    many = f"at least {matched:,}" if capped else count(matched)
    question = f"{VERB[action]} {many} job{'s' if matched != 1 else ''} ({what})?"
    if not typer.confirm(question, err=True):
        err.print("nothing done")
        raise typer.Exit(1)


def _report_each(action: str, answer: dict[str, Any], as_json: bool) -> None:
    """One line per id, failures on stderr; a lone id as its single-job command answers:
    the job (as `jobq jobs show` prints it), or the error."""
    results: list[dict[str, Any]] = answer["results"]
    if len(results) == 1:
        _report_one(action, results[0], as_json)
        return
    if as_json:
        print(json.dumps(results, indent=2))
    for r in results if not as_json else []:
        if r["ok"]:
            console.print(f"{r['id']}: {_outcome(action, r)}")
        else:
            error(f"{r['id']}: {r['error']['message']}", r["error"]["code"], False)
    if not all(r["ok"] for r in results):
        raise typer.Exit(1)


def _report_one(action: str, result: dict[str, Any], as_json: bool) -> None:
    if not result["ok"]:
        problem = result["error"]
        status = STATUS.get(problem["code"])
        error(problem["message"], problem["code"], as_json, status, **problem["details"])
        raise typer.Exit(1)
    if "job" in result:
        show_job(result["job"], as_json)
    elif as_json:
        print(json.dumps(result, indent=2))
    else:
        console.print(f"{result['id']}: {_outcome(action, result)}")


def _outcome(action: str, result: dict[str, Any]) -> str:
    job = result.get("job")
    if action == "retry" and job:
        return f"retried as {job['id']}"
    if job and job.get("cancel_requested") and job["state"] == "running":
        return "asked to stop (running)"
    return DONE[action]


def follow(
    url: str, key: str | None, op: dict[str, Any], total: int, as_json: bool, no_wait: bool
) -> None:
    """Show an operation's progress until it ends (or just the operation, `no_wait`)."""
    if no_wait:
        _print(op, as_json, f"operation {op['id']}")
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    try:
        with Progress(*columns, console=err, disable=as_json) as progress:
            bar = progress.add_task(f"{op['action']} {op['id'][:13]}", total=total)
            while op["state"] == "running":
                time.sleep(POLL)
                op = call("GET", url, key, f"/operations/{seg(op['id'])}", as_json=as_json)
                progress.update(bar, completed=op["matched"], total=max(total, op["matched"]))
    except KeyboardInterrupt:
        err.print(f"stopped following; the operation goes on: jobq jobs operations {op['id']}")
        raise typer.Exit(130) from None
    _summary(op, as_json)


def _summary(op: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(op, indent=2))
    else:
        verb = DONE.get(op["action"], "deleted")
        console.print(f"{op['done']:,} jobs {verb}, {op['failed']:,} failed ({op['state']})")
        for failure in op["errors"]:
            err.print(f"  {failure['id']}: {failure['code']}: {failure['message']}")
        if op.get("message") and op["state"] != "done":
            err.print(op["message"])
    if op["state"] != "done" or op["failed"]:
        raise typer.Exit(1)


def _command(action: str, help_text: str) -> Any:
    def command(
        job_ids: Ids = None,
        queue: Queues = None,
        type: Types = None,
        state: States = None,
        meta: Meta = None,
        created_after: Moment = None,
        created_before: Moment = None,
        finished_after: Moment = None,
        finished_before: Moment = None,
        reason: Annotated[
            str | None, typer.Option(help="Why (cancel: shown in each job's error).")
        ] = None,
        yes: Yes = False,
        no_wait: NoWait = False,
        url: Url = DEFAULT_URL,
        key: Key = None,
        as_json: AsJson = False,
    ) -> None:
        times = {
            "created_after": created_after,
            "created_before": created_before,
            "finished_after": finished_after,
            "finished_before": finished_before,
        }
        selection = _filter(queue, type, state, meta, times)
        options = {"url": url, "key": key, "as_json": as_json, "yes": yes, "no_wait": no_wait}
        bulk_jobs(action, job_ids, selection, {**options, "reason": reason})

    command.__doc__ = help_text
    return command


def operations(
    op_id: Annotated[str | None, typer.Argument(help="One operation (default: list them).")] = None,
    cancel: Annotated[bool, typer.Option("--cancel", help="Stop it after its batch.")] = False,
    url: Url = DEFAULT_URL,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Bulk operations: yours, newest first, or one with its progress."""
    if op_id is None:
        ops = call("GET", url, key, "/operations", as_json=as_json)["operations"]
        if as_json:
            print(json.dumps(ops, indent=2))
        for op in ops if not as_json else []:
            console.print(_line(op))
        return
    path = f"/operations/{seg(op_id)}"
    if cancel:
        op = call("POST", url, key, f"{path}/cancel", as_json=as_json)
    else:
        op = call("GET", url, key, path, as_json=as_json)
    _print(op, as_json, _line(op))


def _print(doc: Any, as_json: bool, text: str) -> None:
    if as_json:
        print(json.dumps(doc, indent=2))
    else:
        console.print(text)


def _line(op: dict[str, Any]) -> str:
    return (
        f"{op['id']}  {op['action']:<10} {op['state']:<9} matched {op['matched']:,}, "
        f"done {op['done']:,}, failed {op['failed']:,}  {op['created_at']}"
    )


def queues_purge(
    name: str, yes: Yes = False, url: Url = DEFAULT_URL, key: Key = None, as_json: AsJson = False
) -> None:
    """Delete every waiting job (scheduled, queued) of a queue."""
    counts = _counts(url, key, name, as_json)
    waiting = counts.get("scheduled", 0) + counts.get("queued", 0)
    if not waiting:
        _nothing(as_json, {"queue": name})
        return
    _confirm("purge", waiting, False, f"waiting in queue {name}", yes)
    op = call("POST", url, key, f"/queues/{seg(name)}/purge", as_json=as_json)
    follow(url, key, op, waiting, as_json, False)


def queues_delete(
    name: str,
    with_jobs: Annotated[
        bool, typer.Option("--with-jobs", help="Delete its jobs too (those not running).")
    ] = False,
    yes: Yes = False,
    url: Url = DEFAULT_URL,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Delete a queue (its name, pause, owner and grants): at once when it holds no job, or
    with `--with-jobs` after deleting its jobs."""
    total = sum(_counts(url, key, name, as_json).values())
    if total and not with_jobs:
        message = f"queue {name} holds {total:,} jobs: add --with-jobs to delete them too"
        fail(message, "conflict", as_json, queue=name, jobs=total)
    what = f"queue {name} and its {total:,} jobs" if total else f"queue {name} (empty)"
    if not yes and not typer.confirm(f"Delete {what}?", err=True):
        err.print("nothing done")
        raise typer.Exit(1)
    params = {"with_jobs": "true"} if with_jobs else {}
    op = call("DELETE", url, key, f"/queues/{seg(name)}", as_json=as_json, params=params)
    if op is None:  # 204: it held nothing
        _print({"queue": name, "deleted": True}, as_json, f"queue {name} deleted")
        return
    follow(url, key, op, total, as_json, False)


def _counts(url: str, key: str | None, name: str, as_json: bool) -> dict[str, int]:
    """The queue's jobs per state ({} when the server lists no such queue)."""
    for queue in call("GET", url, key, "/queues", as_json=as_json)["queues"]:
        if queue["name"] == name:
            return {k: int(v) for k, v in queue["counts"].items()}
    return {}


def register(jobs_app: typer.Typer, queues_app: typer.Typer) -> None:
    """Add the bulk commands to `jobq jobs` and `jobq queues`."""
    helps = {
        "retry": "Run finished jobs again as new jobs: by ids, or every job a filter matches "
        "(failed ones unless --state says otherwise). A job has one retry.",
        "cancel": "Cancel jobs (running ones are asked to stop): by ids or by filter.",
        "delete": "Delete finished jobs: by ids or by filter.",
    }
    for action, text in helps.items():
        jobs_app.command(action)(_command(action, text))
    jobs_app.command("operations")(operations)
    queues_app.command("purge")(queues_purge)
    queues_app.command("delete")(queues_delete)
