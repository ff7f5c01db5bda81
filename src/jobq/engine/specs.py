"""What interfaces hand the engine: a job as its producer asks for it, a worker's outcome,
and the defaults a job gets where its producer says nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jobq import loglimit


@dataclass(slots=True)
class Defaults:
    """What a job gets when its producer does not say."""

    lease_seconds: float = 60.0
    max_attempts: int = 3
    backoff_base: float = 2.0
    backoff_max: float = 3600.0
    result_ttl: float | None = 7 * 86400.0
    max_claim_wait: float = 60.0
    max_result_wait: float = 300.0
    max_log_bytes: int | None = loglimit.DEFAULT_MAX_BYTES  # per job (None: no limit)
    idle_after: float = 60.0  # seconds waiting jobs go untaken before a no_worker problem


@dataclass(slots=True)
class JobSpec:
    """A job as a producer asks for it; None means the default."""

    queue: str = "default"
    type: str = "default"
    payload: Any = None
    metadata: dict[str, str] = field(default_factory=dict)
    priority: int = 0
    run_at: float | None = None
    delay: float | None = None
    lease_seconds: float | None = None
    deadline_seconds: float | None = None
    deadline_from_enqueue: bool = False  # the deadline counts from now, not the first claim
    max_attempts: int | None = None
    backoff_base: float | None = None
    backoff_max: float | None = None
    result_ttl: float | None = None
    keep_forever: bool = False
    callback_url: str | None = None
    unique_key: str | None = None
    owner: str | None = None
    retry_of: str | None = None


@dataclass(slots=True)
class Ack:
    """One outcome in a batch acknowledgement: a result, or an error when `error` is set."""

    job_id: str
    token: str
    result: Any = None
    error: dict[str, Any] | None = None
    retryable: bool = True
    exit_code: int | None = None
