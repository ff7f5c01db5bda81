"""What issue 30 asks flow limits to prove in process: keys take turns fairly under a burst
(measured), and on PostgreSQL a limited claim counts its room inside one transaction, the
one that holds the queue's lock (what makes a limit exact across nodes).

The same limits under real `jobq serve` nodes and workers: tests/reliability/
test_flow_limits_hold.py."""

from __future__ import annotations

from pathlib import Path

from jobq.engine import Engine, JobSpec
from jobq.engine.specs import Ack
from jobq.model import ClaimSpec, Defaults, Job, QueueLimits, Worker
from jobq.notify import Notifier
from jobq.store.base import Store
from tests.conftest import drop_store, make_store

BIG, SMALL = 10_000, 10
BATCH = 10
WITHIN = 0.02  # the share of the finished jobs by which every small job is done


def claim_of(limit: int) -> ClaimSpec:
    return ClaimSpec(["q"], None, limit, None, Worker("w", "h", 1))


async def enqueue(engine: Engine, key: str, n: int) -> list[Job]:
    jobs: list[Job] = []
    for start in range(0, n, 1000):
        specs = [JobSpec(queue="q", concurrency_key=key) for _ in range(min(1000, n - start))]
        jobs += [job for job, _ in await engine.enqueue(specs)]
    return jobs


async def test_a_small_key_behind_a_burst_is_done_within_the_first_two_percent(
    engine: Engine,
) -> None:
    await engine.set_limits("q", QueueLimits(per_key=1000))  # only the turns matter
    await enqueue(engine, "big", BIG)
    small = {job.id for job in await enqueue(engine, "small", SMALL)}
    finished, acks = 0, []
    give_up = int(WITHIN * (BIG + SMALL))
    while small and finished < give_up:
        _, jobs = await engine.ack_and_claim(acks, claim_of(BATCH))
        finished += len(acks)
        acks = [Ack(job.id, job.lease_token or "", result=None) for job in jobs]
        small -= {job.id for job in jobs}
    finished += len(acks)
    assert len(small) == 0, f"{len(small)} small jobs still waiting after {finished} finished"
    print(f"\nthe {SMALL} small jobs behind {BIG:,} big ones: done by the {finished}th finished")
    assert finished <= give_up


PROBE = """
CREATE TABLE claim_probe (what text NOT NULL, tx bigint NOT NULL);
CREATE FUNCTION claim_probe() RETURNS trigger AS $$
BEGIN
    INSERT INTO claim_probe VALUES (TG_TABLE_NAME || ' ' || TG_OP, txid_current());
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER probe_forget AFTER DELETE ON queue_starts
    FOR EACH STATEMENT EXECUTE FUNCTION claim_probe();
CREATE TRIGGER probe_start AFTER INSERT ON queue_starts
    FOR EACH STATEMENT EXECUTE FUNCTION claim_probe();
CREATE TRIGGER probe_attempt AFTER INSERT ON attempts
    FOR EACH STATEMENT EXECUTE FUNCTION claim_probe();
CREATE TRIGGER probe_lease AFTER UPDATE ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION claim_probe();
"""


async def test_a_postgres_limited_claim_counts_and_leases_in_one_transaction(
    tmp_path: Path,
) -> None:
    """The queue's lock, the count of its starts, the lease and the start it records belong to
    one transaction, also for a worker's claim that runs alone (no acknowledgement with it,
    its worker recorded a moment ago): else the lock is gone before the room is counted, and
    two nodes counting at once both fill the same room."""
    import asyncpg

    store: Store = await make_store("postgres", tmp_path)
    await store.open()
    try:
        engine = Engine(store, Notifier(), Defaults())
        await engine.enqueue([JobSpec(queue="q") for _ in range(4)])
        await engine.set_limits("q", QueueLimits(concurrency=3, rate=10, rate_period=60.0))
        assert len(await engine.claim(claim_of(1))) == 1  # records the worker
        url = str(getattr(store, "url"))  # noqa: B009
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(PROBE)
            assert len(await engine.claim(claim_of(1))) == 1  # alone: no acknowledgement
            probes = await conn.fetch("SELECT what, tx FROM claim_probe")
        finally:
            await conn.close()
        assert {p["what"] for p in probes} >= {
            "queue_starts DELETE",
            "queue_starts INSERT",
            "attempts INSERT",
            "jobs UPDATE",
        }, probes
        assert len({p["tx"] for p in probes}) == 1, [tuple(p) for p in probes]
    finally:
        await store.close()
        await drop_store(store)
