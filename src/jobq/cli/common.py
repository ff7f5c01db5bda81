"""What the commands that talk to a running server share: the --url, --key and --json
options, one call to the native API, and how jobs and listings are printed."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import typer
from rich.console import Console
from rich.table import Table

console = Console(markup=False)  # names and messages may hold [brackets]: not markup

Url = Annotated[str, typer.Option("--url", envvar="JOBQ_URL", help="jobq server URL.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
Key = Annotated[
    str | None, typer.Option("--key", envvar="JOBQ_KEY", help="API key (sent as Bearer).")
]
DEFAULT_URL = "http://127.0.0.1:8080"


def listing(
    items: list[dict[str, Any]],
    as_json: bool,
    columns: Sequence[str],
    row: Callable[[dict[str, Any]], Sequence[str]],
) -> None:
    """`items` as JSON, or as a table of `columns` with one `row(item)` per item."""
    if as_json:
        print(json.dumps(items, indent=2))
        return
    table = Table(*columns)
    for item in items:
        table.add_row(*row(item))
    console.print(table)


def seg(value: str) -> str:
    """`value` as one path segment: an id or name with / ? # or % in it stays itself."""
    return quote(value, safe="")


def headers(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def call(
    method: str, url: str, key: str | None, path: str, timeout: float = 30.0, **kwargs: Any
) -> Any:
    try:
        response = httpx.request(
            method,
            f"{url.rstrip('/')}/api/v1{path}",
            timeout=timeout,
            headers=headers(key),
            **kwargs,
        )
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


def show_job(job: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(job, indent=2))
        return
    table = Table("field", "value", show_header=False)
    for key in (
        "id",
        "queue",
        "type",
        "state",
        "priority",
        "attempt",
        "max_attempts",
        "created_at",
        "started_at",
        "finished_at",
        "result",
        "error",
        "exit_code",
        "retry_of",
        "retried_by",
    ):
        value = job.get(key)
        if key == "state":
            value = state_of(job)
        table.add_row(key, value if isinstance(value, str) else json.dumps(value))
    console.print(table)


def state_of(job: dict[str, Any]) -> str:
    return f"{job['state']} (cancel requested)" if job.get("cancel_requested") else job["state"]


def json_arg(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"payload is not JSON: {exc}") from None


def pairs(values: list[str] | None) -> dict[str, str]:
    out = {}
    for value in values or []:
        key, sep, val = value.partition("=")
        if not sep:
            raise typer.BadParameter(f"--meta wants KEY=VALUE, got {value!r}")
        out[key] = val
    return out
