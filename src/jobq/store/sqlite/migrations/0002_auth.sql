-- jobq schema for SQLite, version 2: users, API keys, queue owners and grants.
-- A key is kept only as the SHA-256 of its full text; key_id is its public, non-secret part.
CREATE TABLE users (
    name       TEXT PRIMARY KEY,
    admin      INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    user_name    TEXT NOT NULL REFERENCES users (name),
    name         TEXT NOT NULL DEFAULT '',
    hash         TEXT NOT NULL,
    created_at   REAL NOT NULL,
    last_used_at REAL,
    revoked_at   REAL
);
CREATE INDEX api_keys_user ON api_keys (user_name);

CREATE TABLE queue_owners (
    queue      TEXT PRIMARY KEY,
    owner      TEXT NOT NULL REFERENCES users (name),
    created_at REAL NOT NULL
);
CREATE INDEX queue_owners_owner ON queue_owners (owner);

CREATE TABLE queue_grants (
    queue      TEXT NOT NULL,
    user_name  TEXT NOT NULL REFERENCES users (name),
    role       TEXT NOT NULL CHECK (role IN ('collaborator', 'viewer', 'worker')),
    created_at REAL NOT NULL,
    PRIMARY KEY (queue, user_name)
);
CREATE INDEX queue_grants_user ON queue_grants (user_name);

-- server-wide secrets shared by every node (the dashboard's session signing key)
CREATE TABLE auth_secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
)
