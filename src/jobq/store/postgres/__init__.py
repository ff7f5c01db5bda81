"""The PostgreSQL store: many jobq servers on one database.

`store` (the Store), `conn` (pool, transactions, migrations), `sql` (statements built from
parts), `handover`, `writes` (grouped writes of decided steps), `notify` (LISTEN/NOTIFY),
`vacuum`; SQL migrations in `migrations/`.
"""

from jobq.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
