"""Whether PostgreSQL will vacuum jobq's busiest tables, checked when a store opens.

Every job is inserted once and updated at each move (claimed, acknowledged, retried), and
each attempt is opened and closed: `jobs` and `attempts` leave dead row versions behind all
the time. Autovacuum removes them and refreshes the planner's statistics. Without it the
tables and their indexes keep every version of every job ever moved, and the plans of
prepared statements, made while a table was small, are never revised (measured on a server
with autovacuum off: 800,000 dead rows after 400,000 jobs, and a plan made on a nearly empty
`attempts` table scanning all of it). jobq does not vacuum on its own; it says so, once, in
the log of a server that opens such a database.
"""

from __future__ import annotations

from jobq.store.postgres.conn import Conn

BUSY_TABLES = ("jobs", "attempts")

# autovacuum needs both on; either can be set in postgresql.conf or for the database
_SETTINGS_OFF = """
SELECT name FROM pg_settings
WHERE name IN ('autovacuum', 'track_counts') AND NOT setting::boolean ORDER BY name
"""

# the busy tables whose own storage parameters turn autovacuum off
_TABLES_OFF = """
SELECT c.relname FROM pg_class c, unnest(c.reloptions) AS o (option)
WHERE c.oid IN (SELECT to_regclass(name) FROM unnest($1::text[]) AS t (name))
  AND split_part(o.option, '=', 1) = 'autovacuum_enabled'
  AND NOT split_part(o.option, '=', 2)::boolean
ORDER BY c.relname
"""


async def vacuum_gaps(c: Conn) -> list[str]:
    """Why autovacuum will not clean the busy tables ([]: it will)."""
    gaps = [f"{row[0]} is off" for row in await c.fetch(_SETTINGS_OFF)]
    tables = await c.fetch(_TABLES_OFF, list(BUSY_TABLES))
    gaps += [f"table {row[0]} has autovacuum_enabled = false" for row in tables]
    return gaps


def advice(gaps: list[str]) -> str:
    """The log line for `gaps`."""
    return (
        f"PostgreSQL will not vacuum jobq's tables ({'; '.join(gaps)}): dead rows of every "
        "moved job stay, and the tables, their indexes and the statements' plans grow stale "
        f"with them. Turn autovacuum on, or run `VACUUM ANALYZE {', '.join(BUSY_TABLES)}` "
        "regularly (docs/deploy.md, 'What to monitor')."
    )
