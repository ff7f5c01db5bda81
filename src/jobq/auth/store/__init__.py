"""Where users, API keys, queue owners, grants and dashboard sessions are kept.

    base      AuthStore, the interface
    sql       the statements, written once for both databases
    sqlite    SQLiteAuthStore, on the SQLite job store's writer thread and readers
    postgres  PostgresAuthStore, on the PostgreSQL job store's pool

An auth store is not opened on its own: `auth_store_for(store)` builds it on an open job
store's connections, in the same database (whose migrations make both stores' tables).
"""

from __future__ import annotations

from jobq.auth.store.base import AuthStore
from jobq.store.base import Store


def auth_store_for(store: Store) -> AuthStore:
    """The auth store in `store`'s database, writing through `store`'s connections (SQLite
    has one writer per file: auth writes join its group commits)."""
    from jobq.store.sqlite import SQLiteStore

    if isinstance(store, SQLiteStore):
        from jobq.auth.store.sqlite import SQLiteAuthStore

        return SQLiteAuthStore(store._writer, store._readers)
    from jobq.store.postgres import PostgresStore  # type: ignore[import-not-found,unused-ignore]

    if isinstance(store, PostgresStore):
        from jobq.auth.store.postgres import PostgresAuthStore

        return PostgresAuthStore(store.db)
    raise TypeError(f"no auth store for {type(store).__name__}")


__all__ = ["AuthStore", "auth_store_for"]
