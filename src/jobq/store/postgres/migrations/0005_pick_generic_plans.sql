-- jobq_pick's statements take their arguments (the queues, the types, the jobs already seen,
-- how many) as parameters, and PostgreSQL kept planning them anew on every call: a custom plan
-- each time cost about a third of PostgreSQL's CPU per claim. Their plans do not depend on the
-- values (index scans on the claim indexes, the primary key), so they are planned once.
ALTER FUNCTION jobq_pick(text[], text[], integer) SET plan_cache_mode = force_generic_plan;
