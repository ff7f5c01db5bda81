-- jobq_pick peeks without locks, then locks what it saw FOR UPDATE SKIP LOCKED.
--
-- The lock found the jobs it saw by scanning every queued job: its plan, made once (0005),
-- took the claim indexes for `state = 'queued'` while the statistics counted few queued jobs
-- (as they do for a new table until it is analyzed, and for a queue that filled since), so each
-- claim cost O(queued jobs). It now finds them by key, and never by reading the whole table
-- (enable_seqscan = off, for this function's statements only: with statistics that call the
-- table small, a scan of it looked cheaper than ten lookups by key).
--
-- jobq_picked is the same as a set of rows, estimated at one: the claim statement joins it to
-- jobs, and an array's unnest counts ten rows, for which a scan of a table the statistics
-- call small again looked cheaper than lookups by key.
--
-- Claimers that arrive together all peek at the same best jobs, and all but one locked nothing
-- and went round again (at most four rounds, each a new scan from the head of the queue). Now
-- each round peeks v_spare more jobs than it wants and locks the best it wants of them that
-- nobody holds, so a claimer that loses the head of the queue takes the next job in the same
-- round.
CREATE OR REPLACE FUNCTION jobq_pick(p_queues text[], p_types text[], p_limit integer)
RETURNS bigint[] LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
DECLARE
    v_spare constant integer := 16;
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
                    ORDER BY priority DESC, seq LIMIT v_want + v_spare) AS c
                ORDER BY c.priority DESC, c.seq LIMIT v_want + v_spare) AS best;
        ELSE
            SELECT array_agg(seq ORDER BY priority DESC, seq) INTO v_chosen FROM (
                SELECT c.priority, c.seq FROM unnest(v_open) AS q (name)
                CROSS JOIN unnest(p_types) AS t (kind)
                CROSS JOIN LATERAL (
                    SELECT priority, seq FROM jobs
                    WHERE state = 'queued' AND queue = q.name AND type = t.kind
                      AND NOT (seq = ANY (v_seen))
                    ORDER BY priority DESC, seq LIMIT v_want + v_spare) AS c
                ORDER BY c.priority DESC, c.seq LIMIT v_want + v_spare) AS best;
        END IF;
        EXIT WHEN v_chosen IS NULL;
        v_seen := v_seen || v_chosen;
        -- by key, whatever the statistics say: `state = 'queued'` as such would let the
        -- planner read every queued job through the claim indexes (their predicate), and
        -- with statistics that count few queued jobs it did, once per claim
        v_locked := v_locked || ARRAY(
            SELECT seq FROM jobs WHERE seq = ANY (v_chosen) AND coalesce(state, '') = 'queued'
            ORDER BY priority DESC, seq LIMIT v_want FOR UPDATE SKIP LOCKED);
    END LOOP;
    RETURN v_locked;
END
$$;

CREATE FUNCTION jobq_picked(p_queues text[], p_types text[], p_limit integer)
RETURNS SETOF bigint ROWS 1 LANGUAGE sql AS $$
    SELECT unnest(jobq_pick(p_queues, p_types, p_limit))
$$;
