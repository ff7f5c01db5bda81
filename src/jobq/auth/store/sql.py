"""The SQL of users, API keys, queue owners and grants, for every store.

Written once in the dialect SQLite and PostgreSQL share (ON CONFLICT ... DO UPDATE SET x =
excluded.x, EXISTS, plain types); `?` placeholders for SQLite, `for_postgres()` numbers them
($1, $2, ...) for asyncpg. Booleans go in as 0/1 for SQLite and as bool for PostgreSQL.
"""

from __future__ import annotations

import re

KEY_COLUMNS = "id, user_name, name, hash, created_at, last_used_at, revoked_at"

AUTH_SQL = {
    "has_users": "SELECT EXISTS (SELECT 1 FROM users)",
    "add_user": "INSERT INTO users (name, admin, created_at) VALUES (?, ?, ?)",
    "get_user": "SELECT name, admin, created_at FROM users WHERE name = ?",
    "users": "SELECT name, admin, created_at FROM users ORDER BY name",
    "add_key": f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
    "get_key": f"SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?",
    "keys": f"SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id",
    "user_keys": f"SELECT {KEY_COLUMNS} FROM api_keys WHERE user_name = ? ORDER BY created_at, id",
    "revoke_key": "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
    "key_used": "UPDATE api_keys SET last_used_at = ? WHERE id = ?",
    "queue_owner": "SELECT owner FROM queue_owners WHERE queue = ?",
    # a queue is owned by the user who creates it: only a queue jobq knows nothing of (no
    # row in `queues`, no grant) is taken; the same queue name is passed three times
    "claim_queue": (
        "INSERT INTO queue_owners (queue, owner, created_at) "
        "SELECT CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS DOUBLE PRECISION) "
        "WHERE NOT EXISTS (SELECT 1 FROM queues WHERE name = ?) "
        "AND NOT EXISTS (SELECT 1 FROM queue_grants WHERE queue = ?) "
        "ON CONFLICT (queue) DO NOTHING"
    ),
    "set_queue_owner": (
        "INSERT INTO queue_owners (queue, owner, created_at) VALUES (?, ?, ?) "
        "ON CONFLICT (queue) DO UPDATE SET owner = excluded.owner"
    ),
    "grant": (
        "INSERT INTO queue_grants (queue, user_name, role, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (queue, user_name) DO UPDATE SET role = excluded.role"
    ),
    "revoke_grant": "DELETE FROM queue_grants WHERE queue = ? AND user_name = ?",
    "forget_owner": "DELETE FROM queue_owners WHERE queue = ?",
    "forget_grants": "DELETE FROM queue_grants WHERE queue = ?",
    "grants": (
        "SELECT queue, user_name, role, created_at FROM queue_grants ORDER BY queue, user_name"
    ),
    "queue_grants": (
        "SELECT queue, user_name, role, created_at FROM queue_grants WHERE queue = ? "
        "ORDER BY user_name"
    ),
    "owned": "SELECT queue FROM queue_owners WHERE owner = ?",
    "granted": "SELECT queue, role FROM queue_grants WHERE user_name = ?",
    "get_secret": "SELECT value FROM auth_secrets WHERE name = ?",
    "add_secret": "INSERT INTO auth_secrets (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
    "add_session": (
        "INSERT INTO sessions (id, key_id, created_at, expires_at) VALUES (?, ?, ?, ?)"
    ),
    "purge_sessions": "DELETE FROM sessions WHERE expires_at <= ?",
    "session_user": (
        "SELECT u.name, u.admin, k.id FROM sessions s JOIN api_keys k ON k.id = s.key_id "
        "JOIN users u ON u.name = k.user_name "
        "WHERE s.id = ? AND s.expires_at > ? AND k.revoked_at IS NULL"
    ),
    "end_session": "DELETE FROM sessions WHERE id = ?",
    "end_key_sessions": "DELETE FROM sessions WHERE key_id = ?",
}


def numbered(sql: str) -> str:
    """`?` placeholders as $1, $2, ... (no statement here has a `?` inside a literal)."""
    count = 0

    def next_number(_: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"${count}"

    return re.sub(r"\?", next_number, sql)


def for_postgres() -> dict[str, str]:
    return {name: numbered(sql) for name, sql in AUTH_SQL.items()}
