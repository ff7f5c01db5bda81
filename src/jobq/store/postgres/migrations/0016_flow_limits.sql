-- Flow limits on queues (docs/design.md, "Flow control").
-- `paused` keeps the meaning every claim statement gives it: the queue is closed to them. An
-- operator's pause (`operator_paused`) closes it, and so does a flow limit: a limited queue's
-- jobs are leased only by the limited claim, which counts the queue's room first.
ALTER TABLE queues ADD COLUMN operator_paused integer NOT NULL DEFAULT 0;
ALTER TABLE queues ADD COLUMN concurrency integer;
ALTER TABLE queues ADD COLUMN rate integer;
ALTER TABLE queues ADD COLUMN rate_period double precision;
UPDATE queues SET operator_paused = paused;
-- how many of a rate-limited queue's jobs were started in each slot of its period (a 64th of
-- it, from `at`); slots older than the period are deleted
CREATE TABLE queue_starts (
    queue   text NOT NULL,
    at      double precision NOT NULL,
    started integer NOT NULL,
    PRIMARY KEY (queue, at)
);
