"""What the commands that talk to a running server share: the --url, --key and --json
options, one call to the native API (its errors printed on stderr, with the server's
explanation), and job ids given by the start of the id."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, NoReturn
from urllib.parse import quote

import httpx
import typer

from jobq.cli.output import Column, ago, err, error, out, table
from jobq.client.errors import reason_of

console = out  # stdout; errors go to jobq.cli.output.err

Url = Annotated[
    str, typer.Option("--url", envvar="JOBQ_URL", metavar="URL", help="jobq server URL.")
]
AsJson = Annotated[
    bool, typer.Option("--json", help="Print JSON for scripts (errors too, on stderr).")
]
Key = Annotated[
    str | None,
    typer.Option("--key", envvar="JOBQ_KEY", metavar="KEY", help="API key (sent as Bearer)."),
]
DEFAULT_URL = "http://127.0.0.1:8080"
FULL_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ID_START = re.compile(r"^[0-9a-fA-F-]{1,36}$")
CANDIDATES = 10  # jobs an ambiguous id prefix lists


def seg(value: str) -> str:
    """`value` as one path segment: an id or name with / ? # or % in it stays itself."""
    return quote(value, safe="")


def headers(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def fail(message: str, code: str, as_json: bool, exit_code: int = 1, **details: Any) -> NoReturn:
    """Print an error on stderr (JSON with --json) and exit."""
    error(message, code, as_json, **details)
    raise typer.Exit(exit_code)


def call(
    method: str,
    url: str,
    key: str | None,
    path: str,
    timeout: float = 30.0,
    as_json: bool = False,
    **kwargs: Any,
) -> Any:
    """One request to the native API and its JSON answer. A server that cannot be reached
    exits 2, an error answer exits 1, each printed on stderr with what the server said."""
    try:
        response = httpx.request(
            method,
            f"{url.rstrip('/')}/api/v1{path}",
            timeout=timeout,
            headers=headers(key),
            **kwargs,
        )
    except httpx.HTTPError as exc:
        fail(f"cannot reach jobq at {url}: {reason_of(exc)}", "unreachable", as_json, 2)
    if response.status_code >= 400:
        code, message, details = refusal(response)
        error(message, code, as_json, response.status_code, **details)
        raise typer.Exit(1)
    return response.json() if response.content else None


def refusal(response: httpx.Response) -> tuple[str, str, dict[str, Any]]:
    """The code, message and details of an error answer (the body's text when it is not the
    native error document)."""
    try:
        body = response.json()["error"]
        details = body.get("details") or {}
        return str(body["code"]), str(body["message"]), details if isinstance(details, dict) else {}
    except (ValueError, KeyError, TypeError, AttributeError):
        return "http_error", response.text.strip()[:500] or response.reason_phrase, {}


def job_id(url: str, key: str | None, given: str, as_json: bool = False) -> str:
    """The full id of the job `given` names: a full id as it is, else the one job of the
    caller's whose id begins with `given` (the server searches only the caller's jobs).
    None or several: an error (several listed)."""
    if FULL_ID.match(given) or not ID_START.match(given):
        return given  # a full id, or no id at all (the server answers not found)
    params = {"id_prefix": given, "limit": CANDIDATES + 1, "sort": "-created_at"}
    found = call("GET", url, key, "/jobs", as_json=as_json, params=params)["jobs"]
    found = [j for j in found if j["id"].startswith(given.lower())]  # (a server without it)
    if len(found) == 1:
        return str(found[0]["id"])
    if not found:
        fail(f"no job's id begins with {given}", "not_found", as_json)
    return ambiguous(given, found, as_json)


def ambiguous(given: str, found: list[dict[str, Any]], as_json: bool) -> NoReturn:
    more = len(found) > CANDIDATES
    shown = found[:CANDIDATES]
    message = f"{given} begins the ids of {'more than ' if more else ''}{len(shown)} jobs"
    if as_json:
        ids = [j["id"] for j in shown]
        fail(message, "ambiguous", True, id_prefix=given, candidates=ids, more=more)
    error(f"{message}: give more of the id", "ambiguous", False)
    table(
        (
            Column("id", whole=True),
            Column("queue"),
            Column("type", drop=1),
            Column("state", whole=True),
            Column("created", whole=True),
        ),
        [(j["id"], j["queue"], j["type"], j["state"], ago(j["created_at"])) for j in shown],
        err,
    )
    raise typer.Exit(1)


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
