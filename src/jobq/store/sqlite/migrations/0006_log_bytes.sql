-- a job's log size in bytes, kept by every append, so the log limit (jobq.loglimit) costs one
-- row read per append; existing logs are counted once here
ALTER TABLE jobs ADD COLUMN log_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET log_bytes = (
    SELECT coalesce(sum(length(CAST(text AS BLOB))), 0) FROM logs WHERE logs.job_id = jobs.id
) WHERE id IN (SELECT DISTINCT job_id FROM logs);
