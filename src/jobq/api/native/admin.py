"""Administration over the native API: users, keys, queue owners and grants.

Users and keys: administrators only. A queue's grants: administrators and the queue's owner.
In open mode (no users yet, loopback only) every caller is an administrator, so the first user
can be made over HTTP as well as with `jobq users add`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from jobq.api.http.responses import json
from jobq.api.http.security import authenticator_of, guard_of
from jobq.api.native.schemas import ErrorOut
from jobq.auth import service
from jobq.auth.model import ApiKey, Grant, User
from jobq.auth.policy import Action
from jobq.errors import Forbidden, NotFound
from jobq.render import iso

router = APIRouter()
# every route may refuse (401, 403) or not find what it names (404), or conflict (409)
ERRORS: dict[int | str, dict[str, Any]] = {
    c: {"model": ErrorOut} for c in (400, 401, 403, 404, 409, 422, 429, 503)
}


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    admin: bool = False


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str = Field(min_length=1, max_length=100)
    name: str = Field(default="", max_length=200)


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str


class OwnerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str = Field(min_length=1, max_length=100)


async def _admin_only(request: Request) -> None:
    if not (await guard_of(request)).unrestricted:
        raise Forbidden("only administrators may do this")


def user_document(u: User) -> dict[str, Any]:
    return {"name": u.name, "admin": u.admin, "created_at": iso(u.created_at)}


def key_document(k: ApiKey) -> dict[str, Any]:
    return {
        "id": k.id,
        "user": k.user,
        "name": k.name,
        "created_at": iso(k.created_at),
        "last_used_at": iso(k.last_used_at),
        "revoked_at": iso(k.revoked_at),
    }


def grant_document(g: Grant) -> dict[str, Any]:
    return {"queue": g.queue, "user": g.user, "role": str(g.role), "created_at": iso(g.created_at)}


@router.get("/me", responses=ERRORS)
async def me(request: Request) -> Response:
    """Who the key in this request belongs to, and the caller's role on each queue."""
    guard = await guard_of(request)
    p = guard.principal
    roles = {q: str(r) for q, r in sorted(guard.roles.items())}
    return json(
        {"user": p.user, "admin": p.admin, "key_id": p.key_id, "open": p.open, "roles": roles}
    )


@router.get("/users", responses=ERRORS)
async def list_users(request: Request) -> Response:
    await _admin_only(request)
    users = await authenticator_of(request).store.users()
    return json({"users": [user_document(u) for u in users]})


@router.post("/users", status_code=201, responses=ERRORS)
async def add_user(request: Request, body: UserIn) -> Response:
    await _admin_only(request)
    auth = authenticator_of(request)
    user = await service.add_user(auth.store, body.name, body.admin, auth.clock())
    return json(user_document(user), 201)


@router.get("/keys", responses=ERRORS)
async def list_keys(request: Request, user: str | None = None) -> Response:
    await _admin_only(request)
    keys = await authenticator_of(request).store.keys(user)
    return json({"keys": [key_document(k) for k in keys]})


@router.post("/keys", status_code=201, responses=ERRORS)
async def create_key(request: Request, body: KeyIn) -> Response:
    """A new key; the answer's `key` is the only time it is shown."""
    await _admin_only(request)
    auth = authenticator_of(request)
    record, key = await service.create_key(auth.store, body.user, body.name, auth.clock())
    return json({**key_document(record), "key": key}, 201)


@router.delete("/keys/{key_id}", status_code=204, responses=ERRORS)
async def revoke_key(request: Request, key_id: str) -> Response:
    await _admin_only(request)
    auth = authenticator_of(request)
    if not await auth.store.revoke_key(key_id, auth.clock()):
        raise NotFound("no such key, or it was revoked before", key_id=key_id)
    auth.forget()
    return Response(status_code=204)


@router.put("/queues/{name}/owner", responses=ERRORS)
async def set_owner(request: Request, name: str, body: OwnerIn) -> Response:
    await _admin_only(request)
    auth = authenticator_of(request)
    await auth.store.set_queue_owner(name, body.user, auth.clock())
    auth.forget()
    return json({"queue": name, "owner": body.user})


@router.get("/queues/{name}/grants", responses=ERRORS)
async def list_grants(request: Request, name: str) -> Response:
    (await guard_of(request)).queue(name, Action.administer)
    store = authenticator_of(request).store
    grants = await store.grants(name)
    return json(
        {
            "queue": name,
            "owner": await store.queue_owner(name),
            "grants": [grant_document(g) for g in grants],
        }
    )


@router.put("/queues/{name}/grants/{user}", responses=ERRORS)
async def put_grant(request: Request, name: str, user: str, body: GrantIn) -> Response:
    """Give `user` a role on the queue (collaborator, viewer or worker), or change it."""
    (await guard_of(request)).queue(name, Action.administer)
    auth = authenticator_of(request)
    grant = await service.grant(auth.store, name, user, body.role, auth.clock())
    auth.forget()
    return json(grant_document(grant))


@router.delete("/queues/{name}/grants/{user}", status_code=204, responses=ERRORS)
async def delete_grant(request: Request, name: str, user: str) -> Response:
    (await guard_of(request)).queue(name, Action.administer)
    auth = authenticator_of(request)
    if not await auth.store.revoke_grant(name, user):
        raise NotFound("no such grant", queue=name, user=user)
    auth.forget()
    return Response(status_code=204)
