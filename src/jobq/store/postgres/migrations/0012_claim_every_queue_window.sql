-- A claim of every queue (p_queues NULL) reads at most the jobs it wants and v_window more of
-- jobs_claim_all in claim order (and the ones it saw in earlier rounds), and picks the
-- claimable among them: the paused queues' and other types' jobs it steps over are other
-- tenants' data, and walking all of them made every such claim cost what they hold (a paused
-- queue of a million jobs: a million index entries per claim). A window that is full but holds
-- fewer claimable jobs than the round wants (more may lie beyond it) hands the following rounds
-- to the path of listed queues, over every unpaused queue by name: each queue's (and type's)
-- best jobs through jobs_claim and jobs_claim_type, a cost that follows the number of queues,
-- which the administrator asking for every queue has rights to.
-- v_window is jobq.store.sqlite.claim.WINDOW.
--
-- No statement of jobq_pick is compiled (jit = off): each reads a few index entries, in well
-- under a millisecond, but their generic plans' estimates (a claim of listed queues and types
-- over a table of a million jobs; a read of the queues where enable_seqscan = off makes a scan
-- cost 10^10) passed jit_above_cost, and compiling took 140-250 ms per claim.
CREATE OR REPLACE FUNCTION jobq_pick(p_queues text[], p_types text[], p_limit integer)
RETURNS bigint[] LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET jit = off AS $$
DECLARE
    v_spare constant integer := 16;
    v_window constant integer := 256;
    v_open text[];
    v_paused text[];
    v_locked bigint[] := '{}';
    v_seen bigint[] := '{}';
    v_chosen bigint[];
    v_read integer;
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
        IF v_open IS NULL THEN
            SELECT (array_agg(seq ORDER BY priority DESC, seq) FILTER (WHERE claimable))
                       [1:v_want + v_spare],
                   count(*)
            INTO v_chosen, v_read FROM (
                SELECT priority, seq,
                       NOT (queue = ANY (v_paused))
                       AND (p_types IS NULL OR type = ANY (p_types)) AS claimable
                FROM jobs WHERE state = 'queued' AND NOT (seq = ANY (v_seen))
                ORDER BY priority + 0 DESC, seq LIMIT v_want + v_window) AS ahead;
            IF v_read = v_want + v_window
               AND coalesce(cardinality(v_chosen), 0) < v_want + v_spare THEN
                SELECT coalesce(array_agg(name), '{}') INTO v_open FROM queues WHERE paused = 0;
                CONTINUE WHEN v_chosen IS NULL;
            END IF;
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
