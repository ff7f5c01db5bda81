-- jobq schema for SQLite, version 1. Times are UNIX seconds (REAL).
CREATE TABLE jobs (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    id                TEXT NOT NULL UNIQUE,
    queue             TEXT NOT NULL,
    type              TEXT NOT NULL,
    payload           TEXT,
    metadata          TEXT NOT NULL DEFAULT '{}',
    priority          INTEGER NOT NULL DEFAULT 0,
    state             TEXT NOT NULL,
    run_at            REAL NOT NULL,
    lease_seconds     REAL NOT NULL,
    deadline_seconds  REAL,
    max_attempts      INTEGER NOT NULL,
    backoff_base      REAL NOT NULL,
    backoff_max       REAL NOT NULL,
    attempt           INTEGER NOT NULL DEFAULT 0,
    result            TEXT,
    error             TEXT,
    exit_code         INTEGER,
    progress          TEXT,
    result_ttl        REAL,
    callback_url      TEXT,
    owner             TEXT,
    created_at        REAL NOT NULL,
    updated_at        REAL NOT NULL,
    started_at        REAL,
    finished_at       REAL,
    last_heartbeat_at REAL,
    lease_token       TEXT,
    lease_expires_at  REAL,
    deadline_at       REAL,
    worker            TEXT,
    cancel_requested  INTEGER NOT NULL DEFAULT 0,
    cancel_reason     TEXT,
    retry_of          TEXT,
    retried_by        TEXT,
    unique_key        TEXT,
    purge_at          REAL
);

-- claim: highest priority, then oldest, among queued jobs of one queue (and type)
CREATE INDEX jobs_claim ON jobs (queue, priority DESC, seq) WHERE state = 'queued';
CREATE INDEX jobs_claim_type ON jobs (queue, type, priority DESC, seq) WHERE state = 'queued';
-- background duties
CREATE INDEX jobs_due ON jobs (run_at) WHERE state = 'scheduled';
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_deadline ON jobs (deadline_at) WHERE state = 'running' AND deadline_at IS NOT NULL;
CREATE INDEX jobs_purge ON jobs (purge_at) WHERE purge_at IS NOT NULL;
-- listing
CREATE INDEX jobs_queue_state ON jobs (queue, state, seq);
CREATE INDEX jobs_state ON jobs (state, seq);
-- idempotent enqueue: one live job per unique key
CREATE UNIQUE INDEX jobs_unique_live ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('scheduled', 'queued', 'running');

CREATE TABLE attempts (
    job_id      TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    started_at  REAL NOT NULL,
    finished_at REAL,
    worker      TEXT,
    outcome     TEXT,
    error       TEXT,
    PRIMARY KEY (job_id, attempt)
) WITHOUT ROWID;

CREATE TABLE logs (
    job_id  TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    time    REAL NOT NULL,
    stream  TEXT NOT NULL,
    text    TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;

CREATE TABLE queues (
    name       TEXT PRIMARY KEY,
    paused     INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
);

CREATE TABLE workers (
    name      TEXT NOT NULL,
    host      TEXT NOT NULL DEFAULT '',
    pid       INTEGER NOT NULL DEFAULT 0,
    queues    TEXT NOT NULL,
    last_seen REAL NOT NULL,
    PRIMARY KEY (name, host, pid)
);

CREATE TABLE callbacks (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id   TEXT NOT NULL,
    url      TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at  REAL NOT NULL,
    last_error TEXT
);
CREATE INDEX callbacks_due ON callbacks (next_at);
