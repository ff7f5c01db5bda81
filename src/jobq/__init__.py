"""jobq: an HTTP job server on SQLite or PostgreSQL.

`jobq.Client`, `jobq.AsyncClient`, `jobq.Worker` (with `jobq.Fail` and `jobq.Snooze`) and the
client's errors are imported on first use, so `import jobq` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_CLIENT = frozenset(
    {
        "AsyncClient",
        "ClaimedJob",
        "Client",
        "ClientError",
        "Conflict",
        "Forbidden",
        "InvalidRequest",
        "Job",
        "NewJob",
        "NotFound",
        "PayloadTooLarge",
        "ServerError",
        "ServerUnavailable",
        "StaleLease",
        "TransportError",
        "Unauthorized",
    }
)

if TYPE_CHECKING:
    from jobq.client import (
        AsyncClient,
        ClaimedJob,
        Client,
        ClientError,
        Conflict,
        Forbidden,
        InvalidRequest,
        Job,
        NewJob,
        NotFound,
        PayloadTooLarge,
        ServerError,
        ServerUnavailable,
        StaleLease,
        TransportError,
        Unauthorized,
    )
    from jobq.worker import Fail, Snooze, TaskContext, Worker


def __getattr__(name: str) -> Any:
    if name not in __all__ or name == "__version__":
        raise AttributeError(f"module 'jobq' has no attribute {name!r}")
    module = "jobq.client" if name in _CLIENT else "jobq.worker"
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AsyncClient",
    "ClaimedJob",
    "Client",
    "ClientError",
    "Conflict",
    "Fail",
    "Forbidden",
    "InvalidRequest",
    "Job",
    "NewJob",
    "NotFound",
    "PayloadTooLarge",
    "ServerError",
    "ServerUnavailable",
    "Snooze",
    "StaleLease",
    "TaskContext",
    "TransportError",
    "Unauthorized",
    "Worker",
    "__version__",
]
