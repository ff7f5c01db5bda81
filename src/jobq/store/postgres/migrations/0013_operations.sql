-- Operations: work on many jobs (bulk retry, cancel and delete by filter; purging and
-- deleting a queue), done in batches by a background task. Each batch and the operation's
-- progress (its cursor and counts) are written in one transaction, so a restart neither loses
-- nor repeats a batch; the node running an operation holds a lease on it (lease_token,
-- lease_until, renewed by each batch) and another takes it over once the lease has passed.
CREATE TABLE operations (
    id           text PRIMARY KEY,
    action       text NOT NULL,
    selection    text NOT NULL,
    queues       text,
    owner        text,
    state        text NOT NULL,
    upto_seq     bigint NOT NULL,
    lane         bigint NOT NULL DEFAULT 0,
    after_seq    bigint NOT NULL DEFAULT 0,
    matched      bigint NOT NULL DEFAULT 0,
    done         bigint NOT NULL DEFAULT 0,
    failed       bigint NOT NULL DEFAULT 0,
    errors       text NOT NULL DEFAULT '[]',
    message      text,
    reason       text,
    created_at   double precision NOT NULL,
    updated_at   double precision NOT NULL,
    finished_at  double precision,
    lease_token  text,
    lease_until  double precision
);
CREATE INDEX operations_running ON operations (lease_until) WHERE state = 'running';
CREATE INDEX operations_owner ON operations (owner, created_at);
CREATE INDEX operations_created ON operations (created_at);
-- Finished jobs that were retried, per queue and state (GET /queues `retried`): the index
-- holds only them, so counting them never reads the other jobs.
CREATE INDEX jobs_retried ON jobs (queue, state) WHERE retried_by IS NOT NULL;
