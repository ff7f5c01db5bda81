"""Users, API keys, queue owners, grants and sessions in SQLite: `SQLiteAuthStore`.

The store runs on the SQLite job store's connections: writes join the group commits of its
one writer thread (a database file has one writer), reads run on its readers. Each operation
below takes a connection, as the job operations do. The statements are in sql.py, shared with
the PostgreSQL auth store (`for_postgres()` numbers their placeholders); porting a function is
replacing `c.execute(SQL[name], args)` with `conn.fetch(PG[name], *args)`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TypeVar, cast

from jobq.auth.model import ApiKey, Grant, Principal, Role, Session, User
from jobq.auth.store.base import AuthStore
from jobq.auth.store.sql import AUTH_SQL
from jobq.errors import Conflict, NotFound
from jobq.store.sqlite.conn import GroupCommitter, Readers

SQL = AUTH_SQL
T = TypeVar("T")


class SQLiteAuthStore(AuthStore):
    def __init__(self, writer: GroupCommitter, readers: Readers) -> None:
        """`writer` and `readers`: the job store's, on the same database file."""
        self._writer = writer
        self._readers = readers

    async def _write(self, op: Callable[[sqlite3.Connection], T]) -> T:
        return cast(T, await self._writer.submit(op))

    async def has_users(self) -> bool:
        return await self._readers.run(has_users)

    async def add_user(self, user: User) -> None:
        await self._write(lambda c: add_user(c, user))

    async def get_user(self, name: str) -> User | None:
        return await self._readers.run(lambda c: get_user(c, name))

    async def users(self) -> list[User]:
        return await self._readers.run(users)

    async def add_key(self, key: ApiKey) -> None:
        await self._write(lambda c: add_key(c, key))

    async def get_key(self, key_id: str) -> ApiKey | None:
        return await self._readers.run(lambda c: get_key(c, key_id))

    async def keys(self, user: str | None = None) -> list[ApiKey]:
        return await self._readers.run(lambda c: keys(c, user))

    async def revoke_key(self, key_id: str, now: float) -> bool:
        return await self._write(lambda c: revoke_key(c, key_id, now))

    async def key_used(self, key_id: str, now: float) -> None:
        await self._write(lambda c: key_used(c, key_id, now))

    async def queue_owner(self, queue: str) -> str | None:
        return await self._readers.run(lambda c: queue_owner(c, queue))

    async def claim_queue(self, queue: str, user: str, now: float) -> str | None:
        return await self._write(lambda c: claim_queue(c, queue, user, now))

    async def set_queue_owner(self, queue: str, user: str, now: float) -> None:
        await self._write(lambda c: set_queue_owner(c, queue, user, now))

    async def grant(self, grant: Grant) -> None:
        await self._write(lambda c: add_grant(c, grant))

    async def revoke_grant(self, queue: str, user: str) -> bool:
        return await self._write(lambda c: revoke_grant(c, queue, user))

    async def forget_queue(self, queue: str) -> None:
        await self._write(lambda c: forget_queue(c, queue))

    async def grants(self, queue: str | None = None) -> list[Grant]:
        return await self._readers.run(lambda c: grants(c, queue))

    async def roles(self, user: str) -> dict[str, Role]:
        return await self._readers.run(lambda c: roles(c, user))

    async def secret(self, name: str, fresh: str) -> str:
        return await self._write(lambda c: secret(c, name, fresh))

    async def add_session(self, session: Session) -> None:
        await self._write(lambda c: add_session(c, session))

    async def session_user(self, session_id: str, now: float) -> Principal | None:
        return await self._readers.run(lambda c: session_user(c, session_id, now))

    async def end_session(self, session_id: str) -> bool:
        return await self._write(lambda c: end_session(c, session_id))


# --- operations, each run inside the writer's transaction or on a reader ---


def has_users(c: sqlite3.Connection) -> bool:
    return bool(c.execute(SQL["has_users"]).fetchone()[0])


def add_user(c: sqlite3.Connection, user: User) -> None:
    if get_user(c, user.name) is not None:
        raise Conflict("a user with this name exists", user=user.name)
    c.execute(SQL["add_user"], (user.name, int(user.admin), user.created_at))


def get_user(c: sqlite3.Connection, name: str) -> User | None:
    row = c.execute(SQL["get_user"], (name,)).fetchone()
    return None if row is None else User(row[0], bool(row[1]), row[2])


def users(c: sqlite3.Connection) -> list[User]:
    return [User(r[0], bool(r[1]), r[2]) for r in c.execute(SQL["users"])]


def _need_user(c: sqlite3.Connection, name: str) -> None:
    if get_user(c, name) is None:
        raise NotFound("user not found", user=name)


def add_key(c: sqlite3.Connection, key: ApiKey) -> None:
    _need_user(c, key.user)
    c.execute(
        SQL["add_key"],
        (key.id, key.user, key.name, key.hash, key.created_at, key.last_used_at, key.revoked_at),
    )


def _key(row: tuple[object, ...] | None) -> ApiKey | None:
    return None if row is None else ApiKey(*row)  # type: ignore[arg-type]


def get_key(c: sqlite3.Connection, key_id: str) -> ApiKey | None:
    return _key(c.execute(SQL["get_key"], (key_id,)).fetchone())


def keys(c: sqlite3.Connection, user: str | None) -> list[ApiKey]:
    rows = c.execute(SQL["keys"]) if user is None else c.execute(SQL["user_keys"], (user,))
    return [ApiKey(*r) for r in rows]


def revoke_key(c: sqlite3.Connection, key_id: str, now: float) -> bool:
    c.execute(SQL["end_key_sessions"], (key_id,))
    return c.execute(SQL["revoke_key"], (now, key_id)).rowcount > 0


def key_used(c: sqlite3.Connection, key_id: str, now: float) -> None:
    c.execute(SQL["key_used"], (now, key_id))


def queue_owner(c: sqlite3.Connection, queue: str) -> str | None:
    row = c.execute(SQL["queue_owner"], (queue,)).fetchone()
    return None if row is None else str(row[0])


def claim_queue(c: sqlite3.Connection, queue: str, user: str, now: float) -> str | None:
    _need_user(c, user)
    c.execute(SQL["claim_queue"], (queue, user, now, queue, queue))
    return queue_owner(c, queue)


def set_queue_owner(c: sqlite3.Connection, queue: str, user: str, now: float) -> None:
    _need_user(c, user)
    c.execute(SQL["set_queue_owner"], (queue, user, now))


def add_grant(c: sqlite3.Connection, g: Grant) -> None:
    _need_user(c, g.user)
    c.execute(SQL["grant"], (g.queue, g.user, str(g.role), g.created_at))


def revoke_grant(c: sqlite3.Connection, queue: str, user: str) -> bool:
    return c.execute(SQL["revoke_grant"], (queue, user)).rowcount > 0


def forget_queue(c: sqlite3.Connection, queue: str) -> None:
    c.execute(SQL["forget_owner"], (queue,))
    c.execute(SQL["forget_grants"], (queue,))


def grants(c: sqlite3.Connection, queue: str | None) -> list[Grant]:
    rows = c.execute(SQL["grants"]) if queue is None else c.execute(SQL["queue_grants"], (queue,))
    return [Grant(q, u, Role(r), t) for q, u, r, t in rows]


def roles(c: sqlite3.Connection, user: str) -> dict[str, Role]:
    """Every queue `user` holds a role on; ownership wins over a grant."""
    out = {q: Role(r) for q, r in c.execute(SQL["granted"], (user,))}
    out.update({q: Role.owner for (q,) in c.execute(SQL["owned"], (user,))})
    return out


def secret(c: sqlite3.Connection, name: str, fresh: str) -> str:
    c.execute(SQL["add_secret"], (name, fresh))
    return str(c.execute(SQL["get_secret"], (name,)).fetchone()[0])


def add_session(c: sqlite3.Connection, session: Session) -> None:
    c.execute(SQL["purge_sessions"], (session.created_at,))
    c.execute(
        SQL["add_session"], (session.id, session.key_id, session.created_at, session.expires_at)
    )


def session_user(c: sqlite3.Connection, session_id: str, now: float) -> Principal | None:
    row = c.execute(SQL["session_user"], (session_id, now)).fetchone()
    return None if row is None else Principal(row[0], bool(row[1]), row[2])


def end_session(c: sqlite3.Connection, session_id: str) -> bool:
    return c.execute(SQL["end_session"], (session_id,)).rowcount > 0
