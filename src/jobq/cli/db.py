"""`jobq db`: the job database's schema."""

from __future__ import annotations

from typing import Annotated

import typer

from jobq.cli.common import console
from jobq.cli.output import err
from jobq.config import DEFAULT_DB
from jobq.errors import JobqError

db_app = typer.Typer(help="Manage the job database.", no_args_is_help=True)


def check_db_url(db: str) -> None:
    """Fail before serving when the URL is unusable or its driver is not installed."""
    from jobq.store import open_store

    try:
        open_store(db)
    except (ValueError, ImportError) as exc:
        err.print(f"cannot use --db {db}: {exc}", style="red")
        raise typer.Exit(2) from None


@db_app.command("migrate")
def db_migrate(
    db: Annotated[
        str, typer.Option(envvar="JOBQ_DB", help="sqlite:///PATH or postgresql://...")
    ] = DEFAULT_DB,
) -> None:
    """Bring the database schema up to date (safe to run on a live database)."""
    from jobq.store.migrate import migrate_db

    check_db_url(db)
    try:
        applied = migrate_db(db)
    except JobqError as exc:  # one line on stderr: what is wrong, and what to do
        typer.secho(exc.message, err=True, fg="red")
        raise typer.Exit(1) from None
    if applied:
        console.print(f"applied migrations {', '.join(str(v) for v in applied)}")
    else:
        console.print("the schema is up to date")
