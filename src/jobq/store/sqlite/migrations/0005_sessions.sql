-- jobq schema for SQLite, version 5: dashboard sessions kept on the server, so signing out
-- (or revoking the key) ends a session even where a copy of its cookie survives. The cookie
-- holds a random secret; only its SHA-256 is stored.
CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL REFERENCES api_keys (id),
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX sessions_key ON sessions (key_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
