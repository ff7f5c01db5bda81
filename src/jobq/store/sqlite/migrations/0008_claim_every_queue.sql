-- A claim of every queue (an administrator's claim of "any queue": Titan 0.3 `GET /jobs`,
-- Accepted `want_job`) walks the queued jobs of all queues in the claim order (priority,
-- then age) through one index, with no list of queues, whatever their number. It holds each
-- job's queue and type, so the jobs of paused queues (and other types) are stepped over in
-- the index alone, and its state: SQLite (3.40) reads a partial index as covering only when it
-- holds every column the statement names, its predicate's too.
-- Its predicate is written `coalesce(state, '') = 'queued'`, which only the claim of every queue
-- states: no statement that says `state = 'queued'` (the listings, the counts) is planned on
-- it (PostgreSQL's generic plans walked such an index instead of jobs_claim_type: see 0011
-- there).
CREATE INDEX jobs_claim_all ON jobs (priority DESC, seq, queue, type, state)
    WHERE coalesce(state, '') = 'queued';
-- the paused queues a claim skips, read without reading every queue's row
CREATE INDEX queues_paused ON queues (name) WHERE paused = 1;
