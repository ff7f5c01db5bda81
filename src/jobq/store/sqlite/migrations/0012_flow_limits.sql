-- Flow limits on queues (docs/design.md, "Flow control").
-- `paused` keeps the meaning every claim statement gives it: the queue is closed to them. An
-- operator's pause (`operator_paused`) closes it, and so does a flow limit: a limited queue's
-- jobs are leased only by the limited claim, which counts the queue's room first.
ALTER TABLE queues ADD COLUMN operator_paused INTEGER NOT NULL DEFAULT 0;
ALTER TABLE queues ADD COLUMN concurrency INTEGER;
ALTER TABLE queues ADD COLUMN rate INTEGER;
ALTER TABLE queues ADD COLUMN rate_period REAL;
UPDATE queues SET operator_paused = paused;
-- when a rate-limited queue's jobs were started, within its period (older rows are deleted)
CREATE TABLE queue_starts (queue TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX queue_starts_queue ON queue_starts (queue, at);
