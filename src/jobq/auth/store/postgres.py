"""Users, API keys, queue owners and grants in PostgreSQL: the operations PostgresStore runs.

The same statements as sqlite_auth.py (auth_sql.py, placeholders numbered for asyncpg); writes
run inside the store's transaction, reads on a pooled connection.
"""

from __future__ import annotations

from typing import Any

from jobq.auth.model import ApiKey, Grant, Principal, Role, Session, User
from jobq.auth.store.sql import for_postgres
from jobq.errors import Conflict, NotFound

SQL = for_postgres()
Conn = Any  # asyncpg.Connection


def _changed(status: str) -> bool:
    """Whether an asyncpg command status ('UPDATE 1', 'DELETE 0') touched a row."""
    return not status.endswith(" 0")


async def has_users(c: Conn) -> bool:
    return bool(await c.fetchval(SQL["has_users"]))


async def add_user(c: Conn, user: User) -> None:
    if await get_user(c, user.name) is not None:
        raise Conflict("a user with this name exists", user=user.name)
    await c.execute(SQL["add_user"], user.name, user.admin, user.created_at)


async def get_user(c: Conn, name: str) -> User | None:
    row = await c.fetchrow(SQL["get_user"], name)
    return None if row is None else User(row[0], bool(row[1]), row[2])


async def users(c: Conn) -> list[User]:
    return [User(r[0], bool(r[1]), r[2]) for r in await c.fetch(SQL["users"])]


async def _need_user(c: Conn, name: str) -> None:
    if await get_user(c, name) is None:
        raise NotFound("user not found", user=name)


async def add_key(c: Conn, key: ApiKey) -> None:
    await _need_user(c, key.user)
    await c.execute(
        SQL["add_key"],
        key.id, key.user, key.name, key.hash, key.created_at, key.last_used_at, key.revoked_at,
    )  # fmt: skip


async def get_key(c: Conn, key_id: str) -> ApiKey | None:
    row = await c.fetchrow(SQL["get_key"], key_id)
    return None if row is None else ApiKey(*row)


async def keys(c: Conn, user: str | None) -> list[ApiKey]:
    rows = await (c.fetch(SQL["keys"]) if user is None else c.fetch(SQL["user_keys"], user))
    return [ApiKey(*r) for r in rows]


async def revoke_key(c: Conn, key_id: str, now: float) -> bool:
    await c.execute(SQL["end_key_sessions"], key_id)
    return _changed(await c.execute(SQL["revoke_key"], now, key_id))


async def key_used(c: Conn, key_id: str, now: float) -> None:
    await c.execute(SQL["key_used"], now, key_id)


async def queue_owner(c: Conn, queue: str) -> str | None:
    owner = await c.fetchval(SQL["queue_owner"], queue)
    return None if owner is None else str(owner)


async def claim_queue(c: Conn, queue: str, user: str, now: float) -> str | None:
    await _need_user(c, user)
    await c.execute(SQL["claim_queue"], queue, user, now, queue, queue)
    return await queue_owner(c, queue)


async def set_queue_owner(c: Conn, queue: str, user: str, now: float) -> None:
    await _need_user(c, user)
    await c.execute(SQL["set_queue_owner"], queue, user, now)


async def grant(c: Conn, g: Grant) -> None:
    await _need_user(c, g.user)
    await c.execute(SQL["grant"], g.queue, g.user, str(g.role), g.created_at)


async def revoke_grant(c: Conn, queue: str, user: str) -> bool:
    return _changed(await c.execute(SQL["revoke_grant"], queue, user))


async def grants(c: Conn, queue: str | None) -> list[Grant]:
    rows = await (c.fetch(SQL["grants"]) if queue is None else c.fetch(SQL["queue_grants"], queue))
    return [Grant(q, u, Role(r), t) for q, u, r, t in rows]


async def roles(c: Conn, user: str) -> dict[str, Role]:
    """Every queue `user` holds a role on; ownership wins over a grant."""
    out = {q: Role(r) for q, r in await c.fetch(SQL["granted"], user)}
    out.update({q: Role.owner for (q,) in await c.fetch(SQL["owned"], user)})
    return out


async def secret(c: Conn, name: str, fresh: str) -> str:
    await c.execute(SQL["add_secret"], name, fresh)
    return str(await c.fetchval(SQL["get_secret"], name))


async def add_session(c: Conn, session: Session) -> None:
    await c.execute(SQL["purge_sessions"], session.created_at)
    await c.execute(SQL["add_session"], session.id, session.key_id, session.created_at,
                    session.expires_at)  # fmt: skip


async def session_user(c: Conn, session_id: str, now: float) -> Principal | None:
    row = await c.fetchrow(SQL["session_user"], session_id, now)
    return None if row is None else Principal(row[0], bool(row[1]), row[2])


async def end_session(c: Conn, session_id: str) -> bool:
    return _changed(await c.execute(SQL["end_session"], session_id))
