-- jobq schema for PostgreSQL, version 2: users, API keys, queue owners and grants.
-- The same tables as sqlite/migrations/0002_auth.sql; times are UNIX seconds (double precision).
CREATE TABLE users (
    name       text PRIMARY KEY,
    admin      boolean NOT NULL DEFAULT false,
    created_at double precision NOT NULL
);

CREATE TABLE api_keys (
    id           text PRIMARY KEY,
    user_name    text NOT NULL REFERENCES users (name),
    name         text NOT NULL DEFAULT '',
    hash         text NOT NULL,
    created_at   double precision NOT NULL,
    last_used_at double precision,
    revoked_at   double precision
);
CREATE INDEX api_keys_user ON api_keys (user_name);

CREATE TABLE queue_owners (
    queue      text PRIMARY KEY,
    owner      text NOT NULL REFERENCES users (name),
    created_at double precision NOT NULL
);
CREATE INDEX queue_owners_owner ON queue_owners (owner);

CREATE TABLE queue_grants (
    queue      text NOT NULL,
    user_name  text NOT NULL REFERENCES users (name),
    role       text NOT NULL CHECK (role IN ('collaborator', 'viewer', 'worker')),
    created_at double precision NOT NULL,
    PRIMARY KEY (queue, user_name)
);
CREATE INDEX queue_grants_user ON queue_grants (user_name);

CREATE TABLE auth_secrets (
    name  text PRIMARY KEY,
    value text NOT NULL
);
