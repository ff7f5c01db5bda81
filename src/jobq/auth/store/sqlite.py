"""Users, API keys, queue owners and grants in SQLite: the operations SQLiteStore runs.

Each function takes a connection, as the job operations in sqlite.py do: writes run inside the
group committer's transaction, reads on a reader. The statements are in auth_sql.py, shared
with the PostgreSQL store (`for_postgres()` numbers their placeholders); porting a function
is replacing `c.execute(SQL[name], args)` with `conn.fetch(PG[name], *args)`.
"""

from __future__ import annotations

import sqlite3

from jobq.auth.model import ApiKey, Grant, Principal, Role, Session, User
from jobq.auth.store.sql import AUTH_SQL
from jobq.errors import Conflict, NotFound

SQL = AUTH_SQL


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


def grant(c: sqlite3.Connection, g: Grant) -> None:
    _need_user(c, g.user)
    c.execute(SQL["grant"], (g.queue, g.user, str(g.role), g.created_at))


def revoke_grant(c: sqlite3.Connection, queue: str, user: str) -> bool:
    return c.execute(SQL["revoke_grant"], (queue, user)).rowcount > 0


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
    c.execute(SQL["add_session"], (session.id, session.key_id, session.created_at,
                                   session.expires_at))  # fmt: skip


def session_user(c: sqlite3.Connection, session_id: str, now: float) -> Principal | None:
    row = c.execute(SQL["session_user"], (session_id, now)).fetchone()
    return None if row is None else Principal(row[0], bool(row[1]), row[2])


def end_session(c: sqlite3.Connection, session_id: str) -> bool:
    return c.execute(SQL["end_session"], (session_id,)).rowcount > 0
