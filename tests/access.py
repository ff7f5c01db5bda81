"""The access matrix over every interface: who holds which role where, the expected status of
each cell (from issue 6's words, never from jobq.auth.policy), and a generic fixture that
prepares a cell's job through the engine and sends the cell's request to any interface.

An interface is a `Surface`: its mount prefix, its case list, how a key is sent, and how its
expected statuses are derived. Adding an interface (vidispine) is one more Surface with its
case list in tests/integration/test_access_matrix.py.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from jobq.auth import service
from jobq.engine import JobSpec
from jobq.model import ClaimSpec, Worker
from tests.authkit import Case, Cell, Outcome, asgi_status, auth_store_of, route_set, run_matrix

PERSONAS = ["no key", "bad key", "admin", "owner", "collaborator", "viewer", "worker", "stranger"]
SCOPES = ["own", "other"]
BAD_KEY = "jobq_abcdefghij_" + "x" * 43
GRANTED = ("collaborator", "viewer", "worker")
ROLE_MAY = {  # issue 6: owner everything; collaborator (enqueue, cancel, retry, delete, read
    # logs), viewer (read), worker (claim, heartbeat, complete, fail, upload logs)
    "owner": {"read", "enqueue", "manage", "read_logs", "work", "administer"},
    "collaborator": {"read", "enqueue", "manage", "read_logs"},
    "viewer": {"read"},
    "worker": {"work"},
}


def role_of(persona: str, scope: str) -> str | None:
    """The persona's role on the scope's queue: its own role on "own", none on "other"."""
    if scope != "own":
        return None
    return persona if persona in ROLE_MAY else None


def expect_roles(case: Case, persona: str, scope: str) -> int:
    """Native, Titan and Accepted: the role table of issue 6, 404 where a job would leak."""
    if persona in ("no key", "bad key"):
        return 401
    if persona == "admin" or case.kind in ("any", "list"):
        return case.ok
    if case.kind == "admin":
        return 403
    role = role_of(persona, scope)
    if case.kind == "seen":  # a queue's numbers: any role on it
        return case.ok if role is not None else 403
    if role is not None and case.action in ROLE_MAY[role]:
        return 409 if case.held_by == "other" else case.ok
    if case.kind == "sweep" and role is None:
        return case.ok
    if case.kind in ("job", "batch") and role is None:
        return 404
    return 403


USERS = {"admin", "owner", *GRANTED, "stranger", "other", "extra"}


def holder(c: Cell) -> str | None:
    """The user whose claim holds the cell's job: the persona's own, or `extra`'s."""
    if c.case.held_by == "other":
        return "extra"
    return c.persona if c.persona in USERS else None


def expect_connect(case: Case, persona: str, scope: str) -> int:
    """Connect (issue 6: "owners, collaborators and administrators"): no role is 404 (the
    content does not exist for the caller), another role 403."""
    if persona in ("no key", "bad key"):
        return 401
    if persona == "admin" or case.kind == "any":
        return case.ok
    role = role_of(persona, scope)
    if role in ("owner", "collaborator"):
        return case.ok
    return 404 if role is None else 403


def bearer_of(persona: str, key: str | None) -> dict[str, str]:
    return {} if key is None else {"Authorization": f"Bearer {key}"}


def connect_key_of(persona: str, key: str | None) -> dict[str, str]:
    return {} if key is None else {"Authorization": f"Key {key}"}


def basic_of(persona: str, key: str | None) -> dict[str, str]:
    """HTTP basic (vidispine): the persona's user name and its key as the password."""
    if key is None:
        return {}
    token = base64.b64encode(f"{persona}:{key}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@dataclass
class Surface:
    """One mounted interface under test."""

    name: str
    prefix: str
    cases: list[Case]
    expect: Callable[[Case, str, str], int] = expect_roles
    credentials: Callable[[str, str | None], dict[str, str]] = bearer_of
    queues: dict[str, str] = field(default_factory=lambda: {"own": "q-own", "other": "q-other"})

    def covered(self) -> set[tuple[str, str]]:
        return {(c.method, c.template or c.path.partition("?")[0]) for c in self.cases}


class World:
    """The people, their keys, and who holds which role on which queue (the test's own
    record, set in the store through jobq.auth.service and kept here to judge listings)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.keys: dict[str, str | None] = {"no key": None, "bad key": BAD_KEY}
        self.roles: dict[str, dict[str, str]] = {}  # queue -> user -> role

    async def populate(self) -> None:
        from tests.authkit import add_person

        store = auth_store_of(self.app)
        self.keys["admin"] = await add_person(store, "admin", admin=True)
        for name in ("owner", *GRANTED, "stranger", "other", "extra"):
            self.keys[name] = await add_person(store, name)
        await self.arrange("q-own", "owner", GRANTED)
        await self.arrange("q-other", "other", ())

    async def arrange(self, queue: str, owner: str, granted: tuple[str, ...]) -> None:
        """`owner` owns `queue`; the personas in `granted` hold their namesake role there,
        the others none."""
        store, now = auth_store_of(self.app), time.time()
        await store.set_queue_owner(queue, owner, now)
        for role in GRANTED:
            if role in granted:
                await service.grant(store, queue, role, role, now)
            else:
                await store.revoke_grant(queue, role)
        self.roles[queue] = {owner: "owner", **{r: r for r in granted}}
        self.app.state.auth.forget()

    def may(self, persona: str, queue: str, action: str) -> bool:
        """Whether the persona may do `action` on `queue` ("": hold any role there)."""
        if persona == "admin":
            return True
        role = self.roles.get(queue, {}).get(persona)
        return role is not None and (not action or action in ROLE_MAY[role])


class Fixture:
    """Prepares each cell's job through the engine and sends the cell's request."""

    def __init__(self, world: World, client: httpx.AsyncClient, surface: Surface) -> None:
        self.world = world
        self.app = world.app
        self.client = client
        self.surface = surface
        self.engine = world.app.state.engine
        self.count = 0

    async def prepare(self, c: Cell) -> None:
        self.count += 1
        kind = f"{self.surface.name}-{self.count}"
        c.vars = {"queue": c.queue, "job_id": ""}
        if c.case.state is not None:
            [(job, _)] = await self.engine.enqueue([JobSpec(queue=c.queue, type=kind)])
            c.job_id = c.vars["job_id"] = job.id
        if c.case.state in ("running", "succeeded"):
            spec = ClaimSpec([c.queue], [kind], 1, None, Worker(f"w-{c.queue}", user=holder(c)))
            [job] = await self.engine.claim(spec)
            c.token = job.lease_token
        if c.case.state == "succeeded":
            await self.engine.complete(c.job_id, c.token, None)

    async def send(self, c: Cell) -> tuple[int, bool]:
        url = self.surface.prefix + c.case.path.format(**c.vars)
        headers = self.surface.credentials(c.persona, self.world.keys[c.persona])
        if c.case.stream:
            return await asgi_status(self.app, c.case.method, url, headers), False
        body = c.case.body(c) if c.case.body else None
        sent: dict[str, Any] = {}
        if body is not None:
            sent = {{"json": "json", "form": "data", "files": "files"}[c.case.content]: body}
        r = await self.client.request(c.case.method, url, headers=headers, **sent)
        return self.read(c, r)

    def read(self, c: Cell, r: httpx.Response) -> tuple[int, bool]:
        if c.case.shown is None or r.status_code not in (200, 204):
            return r.status_code, False
        items = c.case.shown(r) if r.status_code == 200 else []
        leaked = any(not self.world.may(c.persona, q, c.case.action) for q, _ in items)
        allowed = self.world.may(c.persona, c.queue, c.case.action)
        if c.case.must_show and allowed and c.job_id not in {i for _, i in items}:
            return -1, leaked  # hidden from someone who may see it: wrong, not a leak
        return c.case.ok, leaked


async def run_surface(
    world: World, client: httpx.AsyncClient, surface: Surface, scopes: list[str] = SCOPES
) -> list[Outcome]:
    """Every case of `surface` x every persona x `scopes`."""
    fixture = Fixture(world, client, surface)
    return await run_matrix(
        surface.cases, PERSONAS, scopes, surface.expect, fixture.prepare, fixture.send,
        surface.queues.__getitem__,
    )  # fmt: skip


def check_coverage(app: FastAPI, surface: Surface) -> None:
    assert route_set(app, surface.prefix) == surface.covered(), f"{surface.name}: every route"


def report(outcomes: list[Outcome], label: str) -> None:
    """Print the count; fail on any cell that differs, and first on any wrongly granted."""
    wrong = [o for o in outcomes if o.got != o.expected or o.leaked]
    granted = [o for o in outcomes if o.wrongly_granted]
    print(f"\n{label}: {len(outcomes)} cells checked, {len(wrong)} wrong, "
          f"{len(granted)} granted that should not be")  # fmt: skip
    assert not granted, [describe(o) for o in granted]
    assert not wrong, [describe(o) for o in wrong]


def describe(o: Outcome) -> tuple[Any, ...]:
    c = o.cell
    return (c.case.method, c.case.path, c.persona, c.scope, o.expected, o.got, o.leaked)
