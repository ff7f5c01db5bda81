-- Operations: work on many jobs (bulk retry, cancel and delete by filter; purging and
-- deleting a queue), done in batches by a background task. Each batch and the operation's
-- progress (its cursor and counts) are written in one transaction, so a restart neither loses
-- nor repeats a batch; the node running an operation holds a lease on it (lease_token,
-- lease_until, renewed by each batch) and another takes it over once the lease has passed.
CREATE TABLE operations (
    id           TEXT PRIMARY KEY,
    action       TEXT NOT NULL,
    selection    TEXT NOT NULL,
    queues       TEXT,
    owner        TEXT,
    state        TEXT NOT NULL,
    upto_seq     INTEGER NOT NULL,
    lane         INTEGER NOT NULL DEFAULT 0,
    after_seq    INTEGER NOT NULL DEFAULT 0,
    matched      INTEGER NOT NULL DEFAULT 0,
    done         INTEGER NOT NULL DEFAULT 0,
    failed       INTEGER NOT NULL DEFAULT 0,
    errors       TEXT NOT NULL DEFAULT '[]',
    message      TEXT,
    reason       TEXT,
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL,
    finished_at  REAL,
    lease_token  TEXT,
    lease_until  REAL
);
CREATE INDEX operations_running ON operations (lease_until) WHERE state = 'running';
CREATE INDEX operations_owner ON operations (owner, created_at);
CREATE INDEX operations_created ON operations (created_at);
-- Finished jobs that were retried, per queue and state (GET /queues `retried`): the index
-- holds only them, so counting them never reads the other jobs.
CREATE INDEX jobs_retried ON jobs (queue, state) WHERE retried_by IS NOT NULL;
