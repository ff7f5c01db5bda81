"""The jobq worker: runs command jobs and Python tasks claimed from a jobq server."""

from jobq.worker.app import Settings, TaskContext, Worker
from jobq.worker.outcome import Fail, Snooze
from jobq.worker.runner import Runner, serve

__all__ = ["Fail", "Runner", "Settings", "Snooze", "TaskContext", "Worker", "serve"]
