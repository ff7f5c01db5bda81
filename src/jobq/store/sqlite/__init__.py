"""The SQLite store: jobq's embedded default, one server process per database file.

`store` (the Store), `conn` (connections, group commit, migrations), `claim`, `handover`,
`many` (many rows in few statements); SQL migrations in `migrations/`.
"""

from jobq.store.sqlite.store import SQLiteStore

__all__ = ["SQLiteStore"]
