"""/metrics of queue flow limits on both stores: each limited queue's limits as set, and the
queued jobs its concurrency holds back now, within the bound on queue labels."""

from __future__ import annotations

from pathlib import Path

from jobq.model import QueueLimits
from tests.authkit import running_app
from tests.integration.test_metrics import claim, enqueue, scrape, value


async def test_limits_as_set_and_the_jobs_a_used_up_concurrency_holds(
    tmp_path: Path, store_url: str
) -> None:
    async with running_app(tmp_path, db=store_url) as (app, client):
        app.state.metrics.queue_counts.ttl = 0.0
        engine = app.state.engine
        await enqueue(client, "mail", 5)
        await enqueue(client, "free", 2)
        await engine.set_limits("mail", QueueLimits(concurrency=2, rate=100, rate_period=60.0))
        await engine.set_limits("empty", QueueLimits(rate=5, rate_period=1.5, per_key=3))
        assert len(await claim(client, "mail", 1)) == 1
        m = await scrape(client)
        assert value(m, "jobq_queue_limit", queue="mail", limit="concurrency") == 2
        assert value(m, "jobq_queue_limit", queue="mail", limit="rate") == 100
        assert value(m, "jobq_queue_limit_period_seconds", queue="mail") == 60
        assert value(m, "jobq_queue_limit", queue="empty", limit="rate") == 5
        assert value(m, "jobq_queue_limit_period_seconds", queue="empty") == 1.5
        assert value(m, "jobq_queue_limit", queue="empty", limit="per_key") == 3
        assert ("jobq_queue_limited_jobs", (("limit", "concurrency"), ("queue", "mail"))) in m
        assert value(m, "jobq_queue_limited_jobs", queue="mail", limit="concurrency") == 0
        assert not [k for k in m if k[0].startswith("jobq_queue_limit") and "free" in str(k)]
        assert len(await claim(client, "mail", 5)) == 1  # the second of two: used up
        m = await scrape(client)
        assert value(m, "jobq_queue_limited_jobs", queue="mail", limit="concurrency") == 3
        await engine.pause("mail")  # the pause holds them now, not the limit
        m = await scrape(client)
        assert value(m, "jobq_queue_limited_jobs", queue="mail", limit="concurrency") == 0
        await engine.resume("mail")
        await engine.set_limits("mail", QueueLimits())
        m = await scrape(client)
        assert not [k for k in m if k[0].startswith("jobq_queue_limit") and "mail" in str(k)]


async def test_limits_past_the_bound_on_queue_labels_are_summed_as_other(
    tmp_path: Path, store_url: str
) -> None:
    async with running_app(tmp_path, db=store_url, metrics_queues=1) as (app, client):
        app.state.metrics.queue_counts.ttl = 0.0
        engine = app.state.engine
        for queue in ("a", "b", "c"):
            await enqueue(client, queue, 3)
        await scrape(client)  # "a" is the queue seen first
        for queue in ("a", "b", "c"):
            await engine.set_limits(queue, QueueLimits(concurrency=1))
            assert len(await claim(client, queue, 1)) == 1
        m = await scrape(client)
        assert value(m, "jobq_queue_limit", queue="a", limit="concurrency") == 1
        assert value(m, "jobq_queue_limited_jobs", queue="a", limit="concurrency") == 2
        assert value(m, "jobq_queue_limited_jobs", queue="(other)", limit="concurrency") == 4
        limits = {dict(k[1])["queue"] for k in m if k[0] == "jobq_queue_limit"}
        assert limits == {"a"}  # a limit as set is one queue's: none for (other)
