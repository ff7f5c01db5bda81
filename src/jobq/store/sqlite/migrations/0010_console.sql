-- The console's statistics (docs/design.md, "Dashboard").
-- A worker says how many jobs it runs at once (its slots); NULL: it did not say.
ALTER TABLE workers ADD COLUMN slots INTEGER;
-- Throughput and wait time per queue over a time range: one index range per queue the caller
-- may see, so one tenant's statistics never read another's jobs, answered from the index
-- alone (the wait before the last attempt is started_at - run_at).
CREATE INDEX jobs_queue_finished ON jobs (queue, finished_at, state, started_at, run_at)
    WHERE finished_at IS NOT NULL;
