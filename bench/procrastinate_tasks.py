"""The no-op task for procrastinate (PostgreSQL, psycopg 3)."""

from __future__ import annotations

import os

import procrastinate

app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(conninfo=os.environ.get("PROCRASTINATE_DSN", ""))
)


@app.task(name="noop", queue="bench")
async def noop() -> None:
    return None
