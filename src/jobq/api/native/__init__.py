"""The native API: jobs, claims, reports, logs, queues, events, workers, statistics, problems and
administration (users, keys, grants)."""
