"""`jobq users`, `jobq keys` and `jobq queues grant|revoke|owner`: administration on the store.

These commands open the database given by --db (like `jobq serve --db`) instead of calling a
server, so an operator can make the first administrator and key without having one. A running
server sees a change within a few seconds (its caches are short).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from jobq.auth import service
from jobq.auth.store import AuthStore, auth_store_for
from jobq.cli.output import Column, ago, error, table
from jobq.config import DEFAULT_DB
from jobq.errors import JobqError
from jobq.render import iso
from jobq.store import open_store

T = TypeVar("T")
users_app = typer.Typer(help="Manage users (on the database directly).", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys (on the database directly).", no_args_is_help=True)
console = Console(markup=False)  # names and messages may hold [brackets]: not markup
notes = Console(stderr=True, markup=False)

Db = Annotated[str, typer.Option(envvar="JOBQ_DB", help="sqlite:///PATH or postgresql://...")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def on_store(db: str, work: Callable[[AuthStore], Awaitable[T]], as_json: bool = False) -> T:
    """Run `work` on the auth store of the database at `db`; a jobq error becomes a message
    on stderr (JSON with `as_json`) and exit code 1."""

    async def main() -> T:
        store = open_store(db)
        await store.open()
        try:
            return await work(auth_store_for(store))
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    except JobqError as exc:
        error(exc.message, exc.code, as_json, **exc.details)
        raise typer.Exit(1) from None


def _print(rows: list[dict[str, Any]], columns: list[str], as_json: bool) -> None:
    """Rows as JSON (true/false, ISO times), or as a table (yes/no, ages)."""
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table(
        [Column(c, whole=c in ("id", "admin", *TIMES)) for c in columns],
        [[_cell(c, row[c]) for c in columns] for row in rows],
    )


TIMES = ("created", "last used", "revoked")


def _cell(column: str, value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return ago(value) if column in TIMES else str(value)


@users_app.command("add")
def users_add(
    name: str,
    admin: Annotated[bool, typer.Option("--admin", help="May do everything.")] = False,
    db: Db = DEFAULT_DB,
) -> None:
    """Add a user (then give it a key: jobq keys create NAME). The first user turns
    authentication on."""

    async def add(store: AuthStore) -> bool:
        first = not await store.has_users()
        await service.add_user(store, name, admin, time.time())
        return first

    first = on_store(db, add)
    console.print(f"user {name} added{' (administrator)' if admin else ''}")
    if first:
        console.print(AUTH_ON.format(name=name), highlight=False)


AUTH_ON = """\
This is the first user: authentication is now on, for every interface. Each request needs
an API key (jobq keys create {name}); the running server applies it at once.
- Running workers without a key get 401: they stay up, log it and retry; the jobs they run
  go back to their queues when their leases run out. Restart them with --key or JOBQ_KEY
  (the key of a user with the worker role on their queues: jobq queues grant QUEUE USER worker).
- Clients and scripts need a key too (--key, JOBQ_KEY, jobq.Client(url, key=...)); the
  dashboard asks for one at /ui/login."""


@users_app.command("ls")
def users_ls(db: Db = DEFAULT_DB, as_json: AsJson = False) -> None:
    """Every user."""
    users = on_store(db, lambda s: s.users(), as_json)
    rows = [{"name": u.name, "admin": u.admin, "created": iso(u.created_at)} for u in users]
    _print(rows, ["name", "admin", "created"], as_json)


@keys_app.command("create")
def keys_create(
    user: str,
    name: Annotated[str, typer.Option("--name", help="What the key is for.")] = "",
    db: Db = DEFAULT_DB,
    as_json: AsJson = False,
) -> None:
    """Make a key for USER and print it: this is the only time it is shown."""
    record, key = on_store(db, lambda s: service.create_key(s, user, name, time.time()), as_json)
    if as_json:
        print(json.dumps({"id": record.id, "user": user, "name": name, "key": key}))
        return
    # the key alone on stdout, so that KEY=$(jobq keys create NAME) keeps it
    notes.print(f"key {record.id} for {user} (shown once, keep it safe):", highlight=False)
    print(key)


@keys_app.command("ls")
def keys_ls(
    user: Annotated[str | None, typer.Option(help="Only this user's keys.")] = None,
    db: Db = DEFAULT_DB,
    as_json: AsJson = False,
) -> None:
    """Every key (never the key itself: only its id)."""
    keys = on_store(db, lambda s: s.keys(user), as_json)
    rows = [
        {
            "id": k.id,
            "user": k.user,
            "name": k.name,
            "created": iso(k.created_at),
            "last used": iso(k.last_used_at),
            "revoked": iso(k.revoked_at),
        }
        for k in keys
    ]
    _print(rows, ["id", "user", "name", "created", "last used", "revoked"], as_json)


@keys_app.command("revoke")
def keys_revoke(key_id: str, db: Db = DEFAULT_DB) -> None:
    """Revoke a key by its id."""
    if not on_store(db, lambda s: s.revoke_key(key_id, time.time())):
        error(f"no key {key_id}, or it was revoked before", "not_found", False)
        raise typer.Exit(1)
    console.print(f"key {key_id} revoked")


def queues_grant(
    queue: str,
    user: str,
    role: Annotated[str, typer.Argument(help="collaborator, viewer or worker.")],
    db: Db = DEFAULT_DB,
) -> None:
    """Give USER a role on QUEUE (on the database directly)."""
    on_store(db, lambda s: service.grant(s, queue, user, role, time.time()))
    console.print(f"{user} is {role} on {queue}")


def queues_revoke(queue: str, user: str, db: Db = DEFAULT_DB) -> None:
    """Take USER's role on QUEUE away (on the database directly)."""
    if not on_store(db, lambda s: s.revoke_grant(queue, user)):
        error(f"{user} has no grant on {queue}", "not_found", False)
        raise typer.Exit(1)
    console.print(f"{user} no longer has a role on {queue}")


def queues_owner(queue: str, user: str, db: Db = DEFAULT_DB) -> None:
    """Make USER the owner of QUEUE (on the database directly)."""
    on_store(db, lambda s: s.set_queue_owner(queue, user, time.time()))
    console.print(f"{user} owns {queue}")


def register(app: typer.Typer, queues_app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(keys_app, name="keys")
    queues_app.command("grant")(queues_grant)
    queues_app.command("revoke")(queues_revoke)
    queues_app.command("owner")(queues_owner)
