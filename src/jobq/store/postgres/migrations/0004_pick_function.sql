-- jobq_pick: the seqs of up to p_limit queued jobs of unpaused queues among p_queues (and of
-- p_types, when given), best first (priority, then age), locked FOR UPDATE SKIP LOCKED.
--
-- The same algorithm the store ran from Python, statement by statement: peek at each (queue,
-- type)'s best jobs through the claim indexes (no locks), take the best overall, lock those
-- nobody else holds, and go round again (at most four times) for what others held. Run here,
-- a claim costs one round trip instead of eight or more, and a transaction does not sit idle
-- between statements while the server's event loop is busy with other requests.
CREATE FUNCTION jobq_pick(p_queues text[], p_types text[], p_limit integer)
RETURNS bigint[] LANGUAGE plpgsql AS $$
DECLARE
    v_open text[];
    v_locked bigint[] := '{}';
    v_seen bigint[] := '{}';
    v_chosen bigint[];
    v_want integer;
BEGIN
    SELECT array_agg(q) INTO v_open FROM unnest(p_queues) AS q
    WHERE NOT EXISTS (SELECT 1 FROM queues WHERE name = q AND paused = 1);
    IF v_open IS NULL THEN
        RETURN v_locked;
    END IF;
    FOR round IN 1..4 LOOP
        v_want := p_limit - cardinality(v_locked);
        EXIT WHEN v_want <= 0;
        IF p_types IS NULL THEN
            SELECT array_agg(seq ORDER BY priority DESC, seq) INTO v_chosen FROM (
                SELECT c.priority, c.seq FROM unnest(v_open) AS q (name)
                CROSS JOIN LATERAL (
                    SELECT priority, seq FROM jobs
                    WHERE state = 'queued' AND queue = q.name AND NOT (seq = ANY (v_seen))
                    ORDER BY priority DESC, seq LIMIT v_want) AS c
                ORDER BY c.priority DESC, c.seq LIMIT v_want) AS best;
        ELSE
            SELECT array_agg(seq ORDER BY priority DESC, seq) INTO v_chosen FROM (
                SELECT c.priority, c.seq FROM unnest(v_open) AS q (name)
                CROSS JOIN unnest(p_types) AS t (kind)
                CROSS JOIN LATERAL (
                    SELECT priority, seq FROM jobs
                    WHERE state = 'queued' AND queue = q.name AND type = t.kind
                      AND NOT (seq = ANY (v_seen))
                    ORDER BY priority DESC, seq LIMIT v_want) AS c
                ORDER BY c.priority DESC, c.seq LIMIT v_want) AS best;
        END IF;
        EXIT WHEN v_chosen IS NULL;
        v_seen := v_seen || v_chosen;
        v_locked := v_locked || ARRAY(
            SELECT seq FROM jobs WHERE seq = ANY (v_chosen) AND state = 'queued'
            ORDER BY priority DESC, seq FOR UPDATE SKIP LOCKED);
    END LOOP;
    RETURN v_locked;
END
$$;
