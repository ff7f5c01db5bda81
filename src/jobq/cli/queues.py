"""`jobq queues`, `jobq workers`, `jobq problems`: what a running server's queues hold, who
works on them, and why jobs cannot go on."""

from __future__ import annotations

import typer

from jobq.cli.common import DEFAULT_URL, AsJson, Key, Url, call, console, listing, seg

queues_app = typer.Typer(help="Inspect, pause and resume queues.", no_args_is_help=True)


@queues_app.command("ls")
def queues_ls(url: Url = DEFAULT_URL, key: Key = None, as_json: AsJson = False) -> None:
    """Every queue with its counts per state."""
    queues = call("GET", url, key, "/queues")["queues"]
    states = ("scheduled", "queued", "running", "succeeded", "failed", "cancelled")
    listing(
        queues,
        as_json,
        ("queue", *states, "oldest queued", "paused"),
        lambda q: (
            q["name"],
            *(str(q["counts"][s]) for s in states),
            q["oldest_queued_at"] or "-",
            "yes" if q["paused"] else "no",
        ),
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


def workers_ls(url: Url = DEFAULT_URL, key: Key = None, as_json: AsJson = False) -> None:
    """Workers seen claiming: their queues, when last seen, how many jobs each holds."""
    workers = call("GET", url, key, "/workers")["workers"]
    listing(
        workers,
        as_json,
        ("worker", "host", "pid", "queues", "last seen", "jobs held"),
        lambda w: (
            w["name"],
            w["host"],
            str(w["pid"]),
            ", ".join(w["queues"]),
            w["last_seen"],
            str(w["jobs_held"]),
        ),
    )


def problems_ls(url: Url = DEFAULT_URL, key: Key = None, as_json: AsJson = False) -> None:
    """Why jobs cannot go on: paused queues, no worker, attempts failing, deadlines near."""
    problems = call("GET", url, key, "/problems")["problems"]
    if not problems and not as_json:
        console.print("no problems")
        return
    listing(
        problems,
        as_json,
        ("problem", "queue", "type", "jobs", "what is wrong"),
        lambda p: (p["kind"], p["queue"], p["type"] or "-", str(p["job_count"]), p["message"]),
    )
