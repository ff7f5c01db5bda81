"""The no-op task for Celery (Redis broker, no result backend)."""

from __future__ import annotations

import os

from celery import Celery

app = Celery("bench", broker=os.environ.get("JOBQ_BENCH_REDIS", "redis://127.0.0.1:6379/0"))
# the bench sets the prefetch so Celery holds as many jobs in flight as jobq's workers do
prefetch = int(os.environ.get("JOBQ_BENCH_PREFETCH", "4"))
app.conf.update(task_ignore_result=True, broker_connection_retry_on_startup=True,
                task_default_queue="bench_celery", worker_hijack_root_logger=False,
                worker_prefetch_multiplier=prefetch)  # fmt: skip


@app.task(name="noop")
def noop() -> None:
    return None
