-- The problems' "failing" item reads the live jobs that carry an error, in seq order, through
-- this index: the few jobs that failed an attempt, not every live job.
CREATE INDEX jobs_failing ON jobs (seq)
    WHERE state IN ('scheduled', 'queued', 'running') AND error IS NOT NULL;
