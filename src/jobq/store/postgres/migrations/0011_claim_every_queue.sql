-- A claim of every queue (an administrator's claim of "any queue": Titan 0.3 `GET /jobs`,
-- Accepted `want_job`) walks the queued jobs of all queues in the claim order (priority,
-- then age) through one index, with no list of queues, whatever their number.
-- It is ordered by `priority + 0`, which only the claim of every queue orders by: the claims
-- and hand-overs of listed queues (ORDER BY priority DESC, seq) are never planned on it. With
-- `priority DESC` their generic plans walked it instead of jobs_claim_type, stepping over
-- every queued job of other types and queues.
CREATE INDEX jobs_claim_all ON jobs ((priority + 0) DESC, seq) WHERE state = 'queued';
-- the paused queues a claim skips, read without reading every queue's row
CREATE INDEX queues_paused ON queues (name) WHERE paused = 1;

-- jobq_pick with p_queues NULL picks from every queue: it peeks at the head of jobs_claim_all
-- (the paused queues' jobs and other types' stepped over), then locks as for listed queues.
CREATE OR REPLACE FUNCTION jobq_pick(p_queues text[], p_types text[], p_limit integer)
RETURNS bigint[] LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
DECLARE
    v_spare constant integer := 16;
    v_open text[];
    v_paused text[];
    v_locked bigint[] := '{}';
    v_seen bigint[] := '{}';
    v_chosen bigint[];
    v_want integer;
BEGIN
    IF p_queues IS NULL THEN
        SELECT coalesce(array_agg(name), '{}') INTO v_paused FROM queues WHERE paused = 1;
    ELSE
        SELECT array_agg(q) INTO v_open FROM unnest(p_queues) AS q
        WHERE NOT EXISTS (SELECT 1 FROM queues WHERE name = q AND paused = 1);
        IF v_open IS NULL THEN
            RETURN v_locked;
        END IF;
    END IF;
    FOR round IN 1..4 LOOP
        v_want := p_limit - cardinality(v_locked);
        EXIT WHEN v_want <= 0;
        IF p_queues IS NULL THEN
            SELECT array_agg(seq ORDER BY priority DESC, seq) INTO v_chosen FROM (
                SELECT priority, seq FROM jobs
                WHERE state = 'queued' AND NOT (queue = ANY (v_paused))
                  AND (p_types IS NULL OR type = ANY (p_types)) AND NOT (seq = ANY (v_seen))
                ORDER BY priority + 0 DESC, seq LIMIT v_want + v_spare) AS best;
        ELSIF p_types IS NULL THEN
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
