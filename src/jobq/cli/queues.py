"""`jobq queues`, `jobq workers`, `jobq problems`: what a running server's queues hold, who
works on them, and why jobs cannot go on."""

from __future__ import annotations

import json
import time
from typing import Any

import typer

from jobq.cli.common import DEFAULT_URL, AsJson, Key, Url, call, console, seg
from jobq.cli.output import Column, ago, moment, table

queues_app = typer.Typer(help="Inspect, pause and resume queues.", no_args_is_help=True)
STATES = ("scheduled", "queued", "running", "succeeded", "failed", "cancelled")
# a worker not seen for this long, holding no job, is gone: an idle worker's claims
# long-poll a few seconds at a time, and each records it (at most once a second)
GONE_AFTER = 30.0


def print_json(items: list[dict[str, Any]]) -> None:
    print(json.dumps(items, indent=2))


@queues_app.command("ls")
def queues_ls(url: Url = DEFAULT_URL, key: Key = None, as_json: AsJson = False) -> None:
    """Every queue with its counts per state."""
    queues = call("GET", url, key, "/queues", as_json=as_json)["queues"]
    if as_json:
        print_json(queues)
        return
    table(
        (
            Column("queue"),
            *(Column(s, whole=True) for s in STATES),
            Column("oldest queued", whole=True, drop=1),
            Column("paused", whole=True),
        ),
        [
            (
                q["name"],
                *(f"{q['counts'][s]:,}" for s in STATES),
                ago(q["oldest_queued_at"]),
                "yes" if q["paused"] else "no",
            )
            for q in queues
        ],
    )


@queues_app.command("pause")
def queues_pause(name: str, url: Url = DEFAULT_URL, key: Key = None) -> None:
    """Stop handing out jobs from a queue."""
    call("POST", url, key, f"/queues/{seg(name)}/pause")
    console.print(f"{name}: paused")


@queues_app.command("resume")
def queues_resume(name: str, url: Url = DEFAULT_URL, key: Key = None) -> None:
    """Hand out jobs from a paused queue again."""
    call("POST", url, key, f"/queues/{seg(name)}/resume")
    console.print(f"{name}: resumed")


def live(worker: dict[str, Any], now: float) -> bool:
    """Whether a worker is still there: the server's word when it gives one, else seen in
    the last GONE_AFTER seconds, or holding jobs (a busy worker does not claim, but its
    jobs' leases are kept alive, or they would have gone back to their queues)."""
    if isinstance(worker.get("live"), bool):
        return bool(worker["live"])
    seen = moment(worker.get("last_seen"))
    return bool(worker.get("jobs_held")) or (seen is not None and now - seen < GONE_AFTER)


def workers_ls(url: Url = DEFAULT_URL, key: Key = None, as_json: AsJson = False) -> None:
    """Workers: live or gone. Their queues, when each was last seen, the jobs it holds."""
    workers = call("GET", url, key, "/workers", as_json=as_json)["workers"]
    now = time.time()
    if as_json:
        print_json([{**w, "live": live(w, now)} for w in workers])
        return
    workers.sort(key=lambda w: (not live(w, now), w["name"]))
    table(
        (
            Column("worker"),
            Column("status", whole=True),
            Column("host", drop=2),
            Column("pid", whole=True, drop=1),
            Column("queues"),
            Column("last seen", whole=True),
            Column("jobs held", whole=True),
        ),
        [
            (
                w["name"],
                "live" if live(w, now) else "gone",
                w["host"],
                str(w["pid"]),
                ", ".join(w["queues"]) if w["queues"] is not None else "(every queue)",
                ago(w["last_seen"]),
                str(w["jobs_held"]),
            )
            for w in workers
        ],
    )


def problems_ls(url: Url = DEFAULT_URL, key: Key = None, as_json: AsJson = False) -> None:
    """Why jobs cannot go on. Paused queues, no worker, attempts failing, deadlines near."""
    problems = call("GET", url, key, "/problems", as_json=as_json)["problems"]
    if as_json:
        print_json(problems)
        return
    if not problems:
        console.print("no problems")
        return
    table(
        (
            Column("problem", whole=True),
            Column("queue"),
            Column("type", drop=1),
            Column("jobs", whole=True),
            Column("what is wrong"),
        ),
        [
            (p["kind"], p["queue"], p["type"] or "-", f"{p['job_count']:,}", p["message"])
            for p in problems
        ],
    )
