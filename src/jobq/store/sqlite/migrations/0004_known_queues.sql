-- Every queue that holds jobs is known (a row in `queues`), as every enqueue since version 1
-- records it: a queue jobq knows already exists, so enqueueing into it never makes a user its
-- owner (docs/auth.md, "How queues get owners"). This records any queue a database may hold
-- jobs of without its row.
INSERT INTO queues (name, paused, updated_at)
SELECT DISTINCT queue, 0, CAST(strftime('%s', 'now') AS REAL) FROM jobs WHERE true
ON CONFLICT (name) DO NOTHING
