"""The engine: the one place that knows what may happen to a job, and the only door to the
store and the notifier for every interface.

    core        Engine (enqueue, claim, reports, logs, queues, problems, duty steps)
    specs       JobSpec (a job as asked for, and a new run of a job), Ack
    rules       what each transition does to a job (pure functions)
    respawn     jobs that spawn a successor when they finish (reserved metadata)
    handoff     parked long-polling claims an enqueue claims for in its own transaction
    problems    why waiting jobs cannot go on
    listing     jobs in their situation (what holds them), listings the store cannot do alone
    callbacks   delivery of finished jobs to their callback URLs
    duties      the background loop: due jobs, expired leases, purge, callbacks
"""

from __future__ import annotations

from jobq.engine.core import Engine
from jobq.engine.rules import Reporter
from jobq.engine.specs import Ack, JobSpec
from jobq.model import Defaults

__all__ = ["Ack", "Defaults", "Engine", "JobSpec", "Reporter"]
