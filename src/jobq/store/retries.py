"""A finished job has one retry: which new jobs a store inserts as retries.

A job made with `retry_of` (a manual retry, a bulk retry, a respawn) links its source through
the source's `retried_by`. A source is linked once: a retry of a job whose retry exists is not
inserted, and the store answers with the retry that exists, not created (as for a live job
holding a unique key), so that retrying a job twice never makes two new jobs, whoever asks
and however the requests race. A source whose `retried_by` names this very job (a respawn,
whose plan set it in the same transaction) or a job that no longer exists (its retry was
deleted) may be linked; a source that no longer exists leaves its retry unlinked.
"""

from __future__ import annotations

from collections.abc import Sequence

from jobq.model import Job


def sources_of(jobs: Sequence[Job]) -> list[str]:
    """The ids of the jobs that `jobs` retry (each once, in order)."""
    return list(dict.fromkeys(j.retry_of for j in jobs if j.retry_of is not None))


def taken(
    jobs: Sequence[Job], links: dict[str, str | None], existing: dict[str, Job]
) -> dict[str, Job]:
    """Of `jobs` (a batch to insert, in order), the retries not to insert: each new job's id
    and the retry that is there instead. `links`: each source found, with its `retried_by`;
    `existing`: the jobs those name that exist. A second retry of one source in the batch
    gets the first."""
    out: dict[str, Job] = {}
    first: dict[str, Job] = {}
    for job in jobs:
        source = job.retry_of
        if source is None:
            continue
        if source in first:
            out[job.id] = first[source]
            continue
        current = links.get(source)
        if current is not None and current != job.id and current in existing:
            out[job.id] = existing[current]
            continue
        first[source] = job
    return out
