"""`jobq queues`, `jobq workers`, `jobq problems`: what a running server's queues hold, who
works on them, and why jobs cannot go on."""

from __future__ import annotations

import json
import re
import time
from typing import Annotated, Any

import typer
from rich.table import Table

from jobq.cli.common import DEFAULT_URL, AsJson, Key, Url, call, console, fail, seg
from jobq.cli.output import Column, ago, moment, table

queues_app = typer.Typer(help="Inspect, pause, resume and limit queues.", no_args_is_help=True)
STATES = ("scheduled", "queued", "running", "succeeded", "failed", "cancelled")
# a worker not seen for this long, holding no job, is gone: an idle worker's claims
# long-poll a few seconds at a time, and each records it (at most once a second)
GONE_AFTER = 30.0


def print_json(items: list[dict[str, Any]]) -> None:
    print(json.dumps(items, indent=2))


@queues_app.command("ls")
def queues_ls(url: Url = DEFAULT_URL, key: Key = None, as_json: AsJson = False) -> None:
    """Every queue with its counts per state, and its flow limits when any queue has some."""
    queues = call("GET", url, key, "/queues", as_json=as_json)["queues"]
    if as_json:
        print_json(queues)
        return
    limited = any(q.get("limits") for q in queues)
    columns = [
        Column("queue"),
        *(Column(s, whole=True) for s in STATES),
        Column("oldest queued", whole=True, drop=2),
        Column("paused", whole=True),
    ]
    rows = [
        [
            q["name"],
            *(f"{q['counts'][s]:,}" for s in STATES),
            ago(q["oldest_queued_at"]),
            "yes" if q["paused"] else "no",
        ]
        for q in queues
    ]
    if limited:  # shown before the oldest waits when the terminal is narrow
        columns.append(Column("limits", whole=True, drop=1))
        for row, q in zip(rows, queues, strict=True):
            row.append(limits_text(q.get("limits")))
    table(columns, rows)


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


# --- flow limits ---

PERIOD = re.compile(r"([0-9]+(?:\.[0-9]+)?)([smhd]?)")
UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
PERIODS = "1s, 30s, 1m, 1h, 1d or a number of seconds (100/1m: 100 a minute)"
Concurrency = Annotated[
    int | None,
    typer.Option("--concurrency", metavar="N", help="At most N of the queue's jobs run at once."),
]
Rate = Annotated[
    str | None,
    typer.Option(
        "--rate", metavar="N/PERIOD", help=f"At most N of its jobs start per PERIOD: {PERIODS}."
    ),
]
PerKey = Annotated[
    int | None,
    typer.Option(
        "--per-key",
        metavar="N",
        help="At most N jobs of one concurrency key run at once; the keys take turns.",
    ),
]
Aging = Annotated[
    str | None,
    typer.Option(
        "--aging",
        metavar="PERIOD",
        help=f"A job queued longer than PERIOD goes before newer jobs of any priority: {PERIODS}.",
    ),
]
Weight = Annotated[
    list[str] | None,
    typer.Option(
        "--weight",
        metavar="KEY=N",
        help="In a keyed queue, KEY takes N jobs a turn (repeat for more keys).",
    ),
]
Clear = Annotated[bool, typer.Option("--clear", help="Remove every limit of the queue.")]


def parse_rate(text: str) -> tuple[int, float] | None:
    """`N/PERIOD` as (N, the period in seconds); None when it is not of that form."""
    count, slash, period = text.strip().partition("/")
    found = PERIOD.fullmatch(period.strip().lower())
    if not slash or found is None or not re.fullmatch("[0-9]+", count.strip()):
        return None
    return int(count), float(found[1]) * UNIT_SECONDS[found[2]]


def parse_period(text: str) -> float | None:
    """A PERIOD (`30s`, `1m`, `90`) in seconds; None when it is not of that form."""
    found = PERIOD.fullmatch(text.strip().lower())
    return None if found is None else float(found[1]) * UNIT_SECONDS[found[2]]


def period_text(period: float) -> str:
    """A period as the CLI takes it, in the largest unit that divides it: 1m, 90s."""
    return rate_text(1, period).removeprefix("1/")


def parse_weights(given: list[str]) -> dict[str, int] | None:
    """`KEY=N` options as {key: N}; None when one is not of that form."""
    weights: dict[str, int] = {}
    for item in given:
        key, equals, weight = item.rpartition("=")
        if not equals or not key or not re.fullmatch("[0-9]+", weight.strip()):
            return None
        weights[key] = int(weight)
    return weights


def weights_text(weights: dict[str, int]) -> str:
    return ", ".join(f"{key}={weight:,}" for key, weight in sorted(weights.items()))


def rate_text(rate: int, period: float) -> str:
    """A rate as `--rate` takes it, in the largest unit that divides its period: 100/1m."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if period >= size and period % size == 0:
            return f"{rate}/{int(period // size)}{unit}"
    return f"{rate}/{period:g}s"


def limits_text(limits: dict[str, Any] | None) -> str:
    """A queue's limits on one line (`conc 3, 100/1m`), `-` for none."""
    limits = limits or {}
    parts = []
    if limits.get("concurrency") is not None:
        parts.append(f"conc {limits['concurrency']:,}")
    if limits.get("rate") is not None and limits.get("rate_period") is not None:
        parts.append(rate_text(limits["rate"], limits["rate_period"]))
    if limits.get("per_key") is not None:
        parts.append(f"per key {limits['per_key']:,}")
    if limits.get("aging") is not None:
        parts.append(f"aging {period_text(limits['aging'])}")
    if limits.get("weights"):
        parts.append(f"weights {weights_text(limits['weights'])}")
    return ", ".join(parts) or "-"


@queues_app.command("limit")
def queues_limit(
    name: str,
    concurrency: Concurrency = None,
    rate: Rate = None,
    per_key: PerKey = None,
    aging: Aging = None,
    weight: Weight = None,
    clear: Clear = False,
    url: Url = DEFAULT_URL,
    key: Key = None,
    as_json: AsJson = False,
) -> None:
    """Show a queue's flow limits, or set them: the limits given replace the queue's limits
    as a whole (a limit not given is removed). In effect for the next claim."""
    path = f"/queues/{seg(name)}/limits"
    given = any(v is not None for v in (concurrency, rate, per_key, aging, weight))
    if clear and given:
        fail("--clear removes every limit: give it alone", "usage", as_json, 2)
    if clear:
        show_limits(call("DELETE", url, key, path, as_json=as_json), as_json)
        return
    if not given:
        show_limits(call("GET", url, key, path, as_json=as_json), as_json)
        return
    body: dict[str, Any] = {"concurrency": concurrency, "per_key": per_key}
    if weight:
        body["weights"] = parse_weights(weight)
        if body["weights"] is None:
            fail(f"--weight takes KEY=N, a whole N: not {weight!r}", "usage", as_json, 2)
    if aging is not None:
        body["aging"] = parse_period(aging)
        if body["aging"] is None:
            fail(f"--aging {aging!r} is not a PERIOD of {PERIODS}", "usage", as_json, 2)
    if rate is not None:
        parsed = parse_rate(rate)
        if parsed is None:
            fail(
                f"--rate {rate!r} is not N/PERIOD, a whole N and a PERIOD of {PERIODS}",
                "usage",
                as_json,
                2,
                rate=rate,
            )
        body["rate"], body["rate_period"] = parsed
    show_limits(call("PUT", url, key, path, as_json=as_json, json=body), as_json)


def show_limits(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(doc, indent=2))
        return
    rate = doc.get("rate")
    period = doc.get("rate_period")
    facts = Table.grid(padding=(0, 2))
    facts.add_column(no_wrap=True, style="bold")
    facts.add_column(overflow="fold")
    for label, value in (
        ("queue", doc["queue"]),
        ("concurrency", "none" if doc.get("concurrency") is None else f"{doc['concurrency']:,}"),
        ("rate", "none" if rate is None or period is None else rate_text(rate, period)),
        ("per key", "none" if doc.get("per_key") is None else f"{doc['per_key']:,}"),
        ("aging", "none" if doc.get("aging") is None else period_text(doc["aging"])),
        ("weights", weights_text(doc["weights"]) if doc.get("weights") else "none"),
        ("paused", "yes" if doc.get("paused") else "no"),
        ("running", f"{doc.get('running', 0):,}"),
    ):
        facts.add_row(label, value)
    console.print(facts)


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
