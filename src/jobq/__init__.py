"""jobq: an HTTP job server on SQLite or PostgreSQL."""

__version__ = "0.1.0"
