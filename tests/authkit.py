"""Helpers for auth tests: an app on a real SQLite store, people with keys, raw ASGI calls,
and the access matrix (`run_matrix`), which takes any interface's route list and cases."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from jobq.api.app import create_app
from jobq.auth import service
from jobq.auth.store import AuthStore
from jobq.config import Config


@asynccontextmanager
async def running_app(
    tmp_path: Path, db: str | None = None, **options: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """A real app (lifespan run) on a fresh SQLite file (or the store at `db`), and an
    in-process client."""
    app = create_app(Config(db=db or f"sqlite:///{tmp_path / 'jobq.db'}", **options))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield app, client


def auth_store_of(app: FastAPI) -> AuthStore:
    store: AuthStore = app.state.auth.store
    return store


async def add_person(store: AuthStore, name: str, admin: bool = False) -> str:
    """A user with one key; the key."""
    await service.add_user(store, name, admin, time.time())
    _, key = await service.create_key(store, name, "test", time.time())
    return key


def bearer(key: str | None) -> dict[str, str]:
    return {} if key is None else {"Authorization": f"Bearer {key}"}


async def asgi_status(app: FastAPI, method: str, url: str, headers: dict[str, str]) -> int:
    """The status of a (possibly endless, streaming) response; then the client hangs up."""
    path, _, query = url.partition("?")
    started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    hang_up = asyncio.Event()
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await hang_up.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and not started.done():
            started.set_result(message["status"])

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": query.encode(), "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }  # fmt: skip
    task = asyncio.create_task(app(scope, receive, send))  # type: ignore[arg-type]
    try:
        return await asyncio.wait_for(started, 30)
    finally:
        hang_up.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


# --- the access matrix ---


@dataclass
class Case:
    """One route: what it needs, what it does, and how a cell's outcome is read.

    `kind`: "job" (404 without a role on the job's queue, 403 with a role that does not allow
    `action`), "queue" (403), "batch" (200; the item's error code decides), "admin"
    (administrators only), "any" (anyone authenticated), "list" (200, content filtered),
    "sweep" (as "job", but a job the caller may not see is already gone: 200, untouched),
    "seen" (a queue's numbers: any role on the queue, else 403).
    """

    method: str
    path: str
    kind: str
    action: str = ""
    state: str | None = None  # the job a cell needs: queued, running, succeeded
    ok: int = 200
    body: Callable[[Cell], Any] | None = None
    stream: bool = False
    visible: Callable[[Cell, httpx.Response], bool] | None = None  # list: did it show the scope?
    # list: the (queue, job id) of every item shown, so any item from a queue the persona may
    # not `action` on is a leak; `must_show`: the cell's own job must be among them when allowed
    shown: Callable[[httpx.Response], list[tuple[str, str]]] | None = None
    must_show: bool = False
    content: str = "json"  # how `body` is sent: json, form (urlencoded) or files (multipart)
    template: str = ""  # the route's path template, when `path` is not it
    # who claimed the cell's job: "self" (the persona's own user), or "other" (user `extra`):
    # then a report without a token is not the persona's to make (409 unless administrator)
    held_by: str = "self"


@dataclass
class Cell:
    case: Case
    persona: str
    scope: str  # "own" or "other"
    queue: str
    job_id: str = ""
    token: str = ""
    vars: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    cell: Cell
    expected: int
    got: int
    leaked: bool = False  # a listing showed what the persona may not see

    @property
    def wrongly_granted(self) -> bool:
        return self.leaked or (self.got < 300 and self.expected >= 300)


def route_set(app: FastAPI, prefix: str) -> set[tuple[str, str]]:
    """(method, path template) of every route mounted under `prefix`, from the OpenAPI
    document (the public list of an app's routes, whatever FastAPI does inside)."""
    out = set()
    for path, operations in app.openapi()["paths"].items():
        if path.startswith(prefix + "/"):
            out |= {(method.upper(), path[len(prefix) :]) for method in operations}
    return out


Expect = Callable[[Case, str, str], int]
Prepare = Callable[[Cell], Awaitable[None]]
Send = Callable[[Cell], Awaitable[tuple[int, bool]]]


async def run_matrix(
    cases: list[Case], personas: list[str], scopes: list[str], expect: Expect,
    prepare: Prepare, send: Send, queue_of: Callable[[str], str],
) -> list[Outcome]:  # fmt: skip
    """Every case x persona x scope: prepare the cell's fixture, send, compare."""
    outcomes = []
    for case in cases:
        for persona in personas:
            for scope in scopes:
                cell = Cell(case, persona, scope, queue_of(scope))
                await prepare(cell)
                got, leaked = await send(cell)
                outcomes.append(Outcome(cell, expect(case, persona, scope), got, leaked))
    return outcomes
