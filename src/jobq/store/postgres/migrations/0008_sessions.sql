-- jobq schema for PostgreSQL, version 8: dashboard sessions kept on the server (the same
-- table as sqlite/migrations/0005_sessions.sql); only the SHA-256 of the cookie's secret is stored.
CREATE TABLE sessions (
    id         text PRIMARY KEY,
    key_id     text NOT NULL REFERENCES api_keys (id),
    created_at double precision NOT NULL,
    expires_at double precision NOT NULL
);
CREATE INDEX sessions_key ON sessions (key_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
