-- Per-key limits and fairness (docs/design.md, "Flow control").
-- A job's concurrency key: jobs of one key share the key's limit in a keyed queue.
ALTER TABLE jobs ADD COLUMN concurrency_key TEXT;
-- at most per_key jobs of one key run at once; a queue with per_key is keyed
ALTER TABLE queues ADD COLUMN per_key INTEGER;
-- a job queued longer than `aging` seconds goes before newer jobs of any priority
ALTER TABLE queues ADD COLUMN aging REAL;
-- keys that take more than one job per turn, as a JSON object of key: weight
ALTER TABLE queues ADD COLUMN key_weights TEXT;
-- a keyed queue's keys in the order they take turns: the smallest turn goes next, and a key
-- served or passed over goes to the back
CREATE TABLE queue_keys (
    queue TEXT NOT NULL,
    key   TEXT NOT NULL,
    turn  INTEGER NOT NULL,
    served INTEGER NOT NULL DEFAULT 0,  -- jobs taken in its current turn (its weight's worth)
    PRIMARY KEY (queue, key)
);
CREATE INDEX queue_keys_turn ON queue_keys (queue, turn);
-- a key's best queued job, and its running and live jobs: keyed jobs only
CREATE INDEX jobs_key_claim ON jobs (queue, concurrency_key, priority DESC, seq)
    WHERE state = 'queued' AND concurrency_key IS NOT NULL;
CREATE INDEX jobs_key_live ON jobs (queue, concurrency_key, state)
    WHERE concurrency_key IS NOT NULL AND state IN ('scheduled', 'queued', 'running');
