"""A job as the CLI shows it: one line of a listing, or the whole of it (`jobq jobs show`):
what it is and where it stands first, then its payload, metadata, result, error (a
traceback as text) and attempts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich.table import Table

from jobq.cli.output import Column, ago, duration, one_line, out, table, when

MAX_LINES = 40  # of a payload or result shown; --json has them whole


def state_of(job: dict[str, Any]) -> str:
    return f"{job['state']} (cancel requested)" if job.get("cancel_requested") else job["state"]


def short_state(job: dict[str, Any]) -> str:
    """The state in a listing: a running job asked to stop is `cancelling`."""
    return "cancelling" if job.get("cancel_requested") else str(job["state"])


def error_line(job: dict[str, Any]) -> str:
    """The error of a failed or cancelled job, on one line ("" for any other)."""
    found = job.get("error")
    if job["state"] not in ("failed", "cancelled") or not isinstance(found, dict):
        return ""
    return one_line(str(found.get("message") or found.get("code") or ""))


JOB_COLUMNS = (
    Column("id", whole=True),
    Column("queue"),
    Column("type", drop=2),
    Column("state", whole=True),
    Column("attempt", whole=True, drop=3),
    Column("created", whole=True, drop=1),
)
ERROR_COLUMN = Column("error", cut=True)


def jobs_table(jobs: Sequence[dict[str, Any]]) -> None:
    """Jobs as a table; an error column when one of them failed."""
    rows = [
        (
            j["id"],
            j["queue"],
            j["type"],
            short_state(j),
            f"{j['attempt']}/{j['max_attempts']}",
            ago(j["created_at"]),
        )
        for j in jobs
    ]
    errors = [error_line(j) for j in jobs]
    if any(errors):
        table((*JOB_COLUMNS, ERROR_COLUMN), [(*r, e) for r, e in zip(rows, errors, strict=True)])
    else:
        table(JOB_COLUMNS, rows)


def show_job(
    job: dict[str, Any], as_json: bool, attempts: list[dict[str, Any]] | None = None
) -> None:
    """The whole job: facts, then payload, metadata, result, error and attempts."""
    if as_json:
        print(json.dumps(job, indent=2))
        return
    facts = Table.grid(padding=(0, 2))
    facts.add_column(no_wrap=True, style="bold")
    facts.add_column(overflow="fold")
    for label, value in facts_of(job):
        facts.add_row(label, value)
    out.print(facts)
    section("payload", pretty(job.get("payload")))
    metadata = job.get("metadata") or {}
    if metadata:
        section("metadata", "\n".join(f"{k} = {v}" for k, v in sorted(metadata.items())))
    if job.get("result") is not None:
        section("result", pretty(job["result"]))
    if job.get("error"):
        section("error", error_text(job["error"]))
    if attempts:
        out.print()
        out.print("attempts", style="bold")
        attempts_table(attempts)


def facts_of(job: dict[str, Any]) -> list[tuple[str, str]]:
    """What the job is and where it stands, as (label, value), the unset ones left out."""
    state = state_of(job)
    if job.get("cancel_reason"):
        state += f": {job['cancel_reason']}"
    facts = [
        ("id", job["id"]),
        ("state", state),
        ("queue", job["queue"]),
        ("type", job["type"]),
        ("priority", str(job["priority"])),
        ("attempt", f"{job['attempt']} of {job['max_attempts']}"),
        ("created", when(job["created_at"])),
    ]
    if job["state"] in ("scheduled", "queued"):
        facts.append(("runs at", when(job.get("run_at"))))
    facts += [(label, when(job.get(name))) for label, name in TIMES if job.get(name)]
    running = job["state"] == "running"
    if running:
        facts.append(("running for", duration(job.get("started_at"), None)))
        facts.append(("heartbeat", when(job.get("last_heartbeat_at"))))
    elif job.get("finished_at") and job.get("started_at"):
        facts.append(("duration", duration(job.get("started_at"), job["finished_at"])))
    facts += [(label, text) for label, text in extras(job, running) if text]
    return facts


TIMES = (("started", "started_at"), ("finished", "finished_at"))


def extras(job: dict[str, Any], running: bool) -> list[tuple[str, str]]:
    """The facts a job may not have: who runs (or last ran) it, how far it got, its links."""
    worker = job.get("worker") or {}
    progress = job.get("progress") or {}
    return [
        ("worker" if running else "last worker", worker_text(worker)),
        ("progress", progress_text(progress)),
        ("exit code", "" if job.get("exit_code") is None else str(job["exit_code"])),
        ("retry of", job.get("retry_of") or ""),
        ("retried by", job.get("retried_by") or ""),
        ("owner", job.get("owner") or ""),
        ("unique key", job.get("unique_key") or ""),
        ("callback", job.get("callback_url") or ""),
    ]


def worker_text(worker: dict[str, Any]) -> str:
    if not worker:
        return ""
    where = ", ".join(
        part
        for part in (
            f"host {worker['host']}" if worker.get("host") else "",
            f"pid {worker['pid']}" if worker.get("pid") else "",
        )
        if part
    )
    return f"{worker.get('name', '?')}" + (f" ({where})" if where else "")


def progress_text(progress: dict[str, Any]) -> str:
    step, total, text = progress.get("step"), progress.get("total"), progress.get("description")
    if step is None and not text:
        return ""
    amount = ""
    if step is not None:
        amount = f"{step:g}"
        if total:
            amount += f" of {total:g} ({100 * step / total:.0f}%)"
    return ": ".join(part for part in (amount, str(text or "")) if part)


def error_text(found: Any) -> str:
    """An error as a person reads it: code and message, a traceback as the text it is,
    then any other details as JSON."""
    if not isinstance(found, dict):
        return pretty(found)
    lines = [f"{found.get('code', 'error')}: {found.get('message', '')}"]
    details = found.get("details")
    if isinstance(details, dict) and isinstance(details.get("traceback"), str):
        lines.append(details["traceback"].rstrip("\n"))
        details = {k: v for k, v in details.items() if k not in ("traceback", "type")}
    if details:
        lines.append(pretty(details))
    return "\n".join(lines)


def attempts_table(attempts: list[dict[str, Any]]) -> None:
    table(
        (
            Column("#", whole=True),
            Column("started", whole=True),
            Column("took", whole=True),
            Column("worker", drop=1),
            Column("outcome", whole=True),
            Column("error", cut=True),
        ),
        [
            (
                str(a["attempt"]),
                ago(a.get("started_at")),
                duration(a.get("started_at"), a.get("finished_at"))
                if a.get("finished_at")
                else "-",
                (a.get("worker") or {}).get("name", "-"),
                a.get("outcome") or "running",
                one_line(str((a.get("error") or {}).get("message") or "")),
            )
            for a in attempts
        ],
    )


def section(title: str, text: str) -> None:
    out.print()
    out.print(title, style="bold")
    out.print(text, soft_wrap=True)


def pretty(value: Any) -> str:
    """JSON, indented, at most MAX_LINES lines (then how many more)."""
    lines = json.dumps(value, indent=2, ensure_ascii=False).splitlines()
    if len(lines) <= MAX_LINES:
        return "\n".join(lines)
    more = len(lines) - MAX_LINES
    return "\n".join([*lines[:MAX_LINES], f"… {more} more lines (--json shows them all)"])
