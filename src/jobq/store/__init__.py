"""Job stores: SQLite (embedded default) and PostgreSQL, chosen from a URL."""

from __future__ import annotations

from jobq.store.base import Store


def open_store(url: str, *, migrate: bool = True) -> Store:
    """A store for `url`: sqlite:///path/to/file.db or postgresql://user@host:port/db.
    `migrate=False` makes a PostgreSQL store refuse an old schema instead of migrating it."""
    if url.startswith("sqlite:"):
        from jobq.store.sqlite import SQLiteStore

        return SQLiteStore(sqlite_path(url))
    if url.startswith(("postgresql:", "postgres:")):
        from jobq.store.postgres import PostgresStore  # type: ignore[import-not-found,unused-ignore]

        store: Store = PostgresStore(url, migrate=migrate)
        return store
    raise ValueError(f"unsupported database URL {url!r} (use sqlite:///PATH or postgresql://...)")


def sqlite_path(url: str) -> str:
    """The file path of a sqlite URL: sqlite:///rel.db, sqlite:////abs.db or sqlite:rel.db."""
    path = url.removeprefix("sqlite:")
    if path.startswith("///"):
        return path[3:] or "jobq.db"
    return path.lstrip("/") or "jobq.db"


__all__ = ["Store", "open_store", "sqlite_path"]
