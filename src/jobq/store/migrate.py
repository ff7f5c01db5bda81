"""`jobq db migrate`: bring any store's schema up to date."""

from __future__ import annotations

import asyncio

from jobq.store import open_store, sqlite_path


def migrate_db(url: str) -> list[int]:
    """Apply the migrations `url` lacks; the versions applied."""
    if url.startswith("sqlite:"):
        from jobq.store.sqlite import SQLiteStore

        return SQLiteStore(sqlite_path(url)).migrate()
    open_store(url)  # rejects unsupported URLs, explains a missing driver
    from jobq.store.postgres.conn import migrate_url

    return asyncio.run(migrate_url(url))
