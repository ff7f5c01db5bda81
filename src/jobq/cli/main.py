"""The `jobq` command: its command groups, each in a module of its own.

serve      jobq.cli.serve     run the job server
db         jobq.cli.db        the database's schema
enqueue, enqueue-many, jobs
           jobq.cli.jobs      put jobs in, inspect and steer them (over HTTP)
jobs retry|cancel|delete|operations, queues purge|delete
           jobq.cli.bulk      many jobs at once, by ids or by filter
queues, workers, problems
           jobq.cli.queues    queues, workers and problems of a running server
worker     jobq.cli.worker    claim jobs and run them
users, keys, queues grant|revoke|owner
           jobq.cli.auth      who may do what (on the database directly)
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from jobq import __version__
from jobq.cli.auth import register as register_auth
from jobq.cli.bulk import register as register_bulk
from jobq.cli.db import db_app
from jobq.cli.jobs import enqueue, enqueue_many, jobs_app
from jobq.cli.output import error
from jobq.cli.queues import problems_ls, queues_app, workers_ls
from jobq.cli.serve import serve
from jobq.cli.worker import worker

app = typer.Typer(
    help="jobq: an HTTP job server.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


def show_version(value: bool) -> None:
    if value:
        typer.echo(f"jobq {__version__}")
        raise typer.Exit()


@app.callback()
def options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """jobq: an HTTP job server."""


app.add_typer(jobs_app, name="jobs")
app.add_typer(queues_app, name="queues")
register_auth(app, queues_app)  # users, keys, queues grant|revoke|owner
register_bulk(jobs_app, queues_app)  # jobs retry|cancel|delete|operations, queues purge|delete
app.add_typer(db_app, name="db")
app.command()(serve)
app.command()(enqueue)
app.command("enqueue-many")(enqueue_many)
app.command()(worker)
app.command("workers")(workers_ls)
app.command("problems")(problems_ls)


# click's ClickException as typer raises it (newer typers carry their own copy of click)
USAGE_ERROR: type[Exception] = next(
    k for k in typer.BadParameter.__mro__ if k.__name__ == "ClickException"
)


def main() -> None:
    """Run the command. With --json, a mistake in the command line is JSON on stderr too."""
    if "--json" not in sys.argv[1:]:
        app()
        return
    try:
        code = app(standalone_mode=False)
    except USAGE_ERROR as exc:
        error(getattr(exc, "format_message", exc.__str__)(), "usage", True)
        sys.exit(getattr(exc, "exit_code", 2))
    except typer.Abort:
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
