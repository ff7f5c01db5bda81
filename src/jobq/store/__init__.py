"""Job stores: SQLite (embedded default) and PostgreSQL, chosen from a URL."""

from __future__ import annotations

from urllib.parse import parse_qsl

from jobq.store.base import Store


def open_store(url: str, *, migrate: bool = True) -> Store:
    """A store for `url`: sqlite:///path/to/file.db[?cache_mib=N] or
    postgresql://user@host:port/db[?pool_size=N].
    `migrate=False` makes a PostgreSQL store refuse an old schema instead of migrating it."""
    if url.startswith("sqlite:"):
        from jobq.store.sqlite import SQLiteStore
        from jobq.store.sqlite.conn import DEFAULT_CACHE_MIB

        cache_mib = sqlite_cache_mib(url) or DEFAULT_CACHE_MIB
        return SQLiteStore(sqlite_path(url), cache_mib=cache_mib)
    if url.startswith(("postgresql:", "postgres:")):
        from jobq.store.postgres import PostgresStore  # type: ignore[import-not-found,unused-ignore]

        store: Store = PostgresStore(url, migrate=migrate)
        return store
    raise ValueError(f"unsupported database URL {url!r} (use sqlite:///PATH or postgresql://...)")


def sqlite_path(url: str) -> str:
    """The file path of a sqlite URL: sqlite:///rel.db, sqlite:////abs.db or sqlite:rel.db
    (the query, if any, holds jobq's options: see `sqlite_cache_mib`)."""
    path = url.removeprefix("sqlite:").partition("?")[0]
    if path.startswith("///"):
        return path[3:] or "jobq.db"
    return path.lstrip("/") or "jobq.db"


def sqlite_cache_mib(url: str) -> int | None:
    """The `cache_mib=N` of a sqlite URL (MiB of page cache for all the store's connections
    together), None if absent. Any other parameter is refused, so a typo is not ignored."""
    query = url.partition("?")[2]
    params = parse_qsl(query, keep_blank_values=True)
    unknown = sorted({k for k, _ in params} - {"cache_mib"})
    if unknown:
        raise ValueError(f"unknown sqlite URL parameter {unknown[0]!r} (known: cache_mib)")
    values = [v for _, v in params]
    if not values:
        return None
    if not values[-1].isdigit() or int(values[-1]) < 1:
        raise ValueError(f"cache_mib must be a positive integer (MiB), got {values[-1]!r}")
    return int(values[-1])


__all__ = ["Store", "open_store", "sqlite_cache_mib", "sqlite_path"]
