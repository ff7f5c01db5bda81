"""Users, API keys, queue owners, grants and sessions in PostgreSQL: `PostgresAuthStore`.

The same statements as sqlite.py (sql.py, placeholders numbered for asyncpg), on the
PostgreSQL job store's pool: writes run in one transaction each, reads on a pooled connection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jobq.auth.model import ApiKey, Grant, Principal, Role, Session, User
from jobq.auth.store.base import AuthStore
from jobq.auth.store.sql import for_postgres
from jobq.errors import Conflict, NotFound

if TYPE_CHECKING:
    from jobq.store.postgres.conn import Database

SQL = for_postgres()
Conn = Any  # asyncpg.Connection


class PostgresAuthStore(AuthStore):
    def __init__(self, db: Database) -> None:
        """`db`: the job store's pool, on the same database."""
        self.db = db

    async def has_users(self) -> bool:
        return await self.db.read(has_users)

    async def add_user(self, user: User) -> None:
        await self.db.run(lambda c: add_user(c, user))

    async def get_user(self, name: str) -> User | None:
        return await self.db.read(lambda c: get_user(c, name))

    async def users(self) -> list[User]:
        return await self.db.read(users)

    async def add_key(self, key: ApiKey) -> None:
        await self.db.run(lambda c: add_key(c, key))

    async def get_key(self, key_id: str) -> ApiKey | None:
        return await self.db.read(lambda c: get_key(c, key_id))

    async def keys(self, user: str | None = None) -> list[ApiKey]:
        return await self.db.read(lambda c: keys(c, user))

    async def revoke_key(self, key_id: str, now: float) -> bool:
        return await self.db.run(lambda c: revoke_key(c, key_id, now))

    async def key_used(self, key_id: str, now: float) -> None:
        await self.db.run(lambda c: key_used(c, key_id, now))

    async def queue_owner(self, queue: str) -> str | None:
        return await self.db.read(lambda c: queue_owner(c, queue))

    async def claim_queue(self, queue: str, user: str, now: float) -> str | None:
        return await self.db.run(lambda c: claim_queue(c, queue, user, now))

    async def set_queue_owner(self, queue: str, user: str, now: float) -> None:
        await self.db.run(lambda c: set_queue_owner(c, queue, user, now))

    async def grant(self, grant: Grant) -> None:
        await self.db.run(lambda c: add_grant(c, grant))

    async def revoke_grant(self, queue: str, user: str) -> bool:
        return await self.db.run(lambda c: revoke_grant(c, queue, user))

    async def forget_queue(self, queue: str) -> None:
        await self.db.run(lambda c: forget_queue(c, queue))

    async def grants(self, queue: str | None = None) -> list[Grant]:
        return await self.db.read(lambda c: grants(c, queue))

    async def roles(self, user: str) -> dict[str, Role]:
        return await self.db.read(lambda c: roles(c, user))

    async def secret(self, name: str, fresh: str) -> str:
        return await self.db.run(lambda c: secret(c, name, fresh))

    async def add_session(self, session: Session) -> None:
        await self.db.run(lambda c: add_session(c, session))

    async def session_user(self, session_id: str, now: float) -> Principal | None:
        return await self.db.read(lambda c: session_user(c, session_id, now))

    async def end_session(self, session_id: str) -> bool:
        return await self.db.run(lambda c: end_session(c, session_id))


# --- operations, each run in one transaction or on a pooled connection ---


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
        key.id,
        key.user,
        key.name,
        key.hash,
        key.created_at,
        key.last_used_at,
        key.revoked_at,
    )


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


async def forget_queue(c: Conn, queue: str) -> None:
    await c.execute(SQL["forget_owner"], queue)
    await c.execute(SQL["forget_grants"], queue)


async def set_queue_owner(c: Conn, queue: str, user: str, now: float) -> None:
    await _need_user(c, user)
    await c.execute(SQL["set_queue_owner"], queue, user, now)


async def add_grant(c: Conn, g: Grant) -> None:
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
    await c.execute(
        SQL["add_session"], session.id, session.key_id, session.created_at, session.expires_at
    )


async def session_user(c: Conn, session_id: str, now: float) -> Principal | None:
    row = await c.fetchrow(SQL["session_user"], session_id, now)
    return None if row is None else Principal(row[0], bool(row[1]), row[2])


async def end_session(c: Conn, session_id: str) -> bool:
    return _changed(await c.execute(SQL["end_session"], session_id))
