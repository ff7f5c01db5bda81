-- A deadline counted from enqueue (Accepted's X-Accepted-Job-Timeout) is set on a waiting job;
-- the duties find the waiting jobs past it, and the next such time, through this index.
CREATE INDEX jobs_waiting_deadline ON jobs (deadline_at)
    WHERE state IN ('scheduled', 'queued') AND deadline_at IS NOT NULL;
