-- a job's log size in bytes, kept by every append, so the log limit (jobq.loglimit) costs one
-- row read per append; existing logs are counted once here
ALTER TABLE jobs ADD COLUMN log_bytes bigint NOT NULL DEFAULT 0;
UPDATE jobs SET log_bytes = sized.bytes
FROM (SELECT job_id, sum(octet_length(text)) AS bytes FROM logs GROUP BY job_id) AS sized
WHERE jobs.id = sized.job_id;
