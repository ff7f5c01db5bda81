"""The Python client of jobq's native API: `Client` (blocking) and `AsyncClient` (asyncio)."""

from jobq.client.calls import NewJob, WorkerId
from jobq.client.errors import (
    ClientError,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    ServerError,
    ServerUnavailable,
    StaleLease,
    TransportError,
    Unauthorized,
)
from jobq.client.http import AsyncClient, Client
from jobq.client.types import (
    AckItem,
    AckResult,
    Attempt,
    ClaimedJob,
    Deletion,
    Event,
    Heartbeat,
    Job,
    JobPage,
    LogEntry,
    LogPage,
    Problem,
    Queue,
    Receipt,
    WorkerInfo,
    WorkerRef,
)

__all__ = [
    "AckItem", "AckResult", "AsyncClient", "Attempt", "ClaimedJob", "Client", "ClientError",
    "Conflict", "Deletion", "Event", "Forbidden", "Heartbeat", "InvalidRequest", "Job",
    "JobPage", "LogEntry", "LogPage", "NewJob", "NotFound", "PayloadTooLarge", "Problem", "Queue",
    "Receipt", "ServerError", "ServerUnavailable", "StaleLease", "TransportError", "Unauthorized",
    "WorkerId", "WorkerInfo", "WorkerRef",
]  # fmt: skip
