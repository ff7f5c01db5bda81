"""Errors jobq raises, independent of any interface.

    JobqError
    ├── NotFound            the job (or queue, worker, ...) does not exist
    ├── Conflict            the state table forbids the operation now
    │   └── StaleLease      the lease token is not the job's current one
    ├── InvalidInput        a value is well-formed but not acceptable
    ├── Unauthorized        no valid credentials
    ├── Forbidden           valid credentials, not allowed
    ├── RateLimited         too many failed authentications from one address
    └── StoreUnavailable    the database cannot be reached or is full

Each interface renders these in its own shape; the HTTP native API maps them to 404, 409, 409,
422, 401, 403, 429 and 503. An error may carry `headers`
(WWW-Authenticate, Retry-After) that every interface sends along.
"""

from __future__ import annotations

from typing import Any


class JobqError(Exception):
    """Something went wrong in jobq."""

    code = "error"
    headers: dict[str, str] | None = None  # sent along by every interface (challenges, ...)

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or (self.__doc__ or self.code).strip()
        self.details = details
        super().__init__(self.message)


class NotFound(JobqError):
    """Not found."""

    code = "not_found"


class Conflict(JobqError):
    """The operation is not allowed in the job's current state."""

    code = "conflict"


class StaleLease(Conflict):
    """The lease token is not the job's current lease: the job was handed to someone else."""

    code = "stale_lease"


class InvalidInput(JobqError):
    """The request is not acceptable."""

    code = "invalid"


class Unauthorized(JobqError):
    """Authentication required."""

    code = "unauthorized"


class Forbidden(JobqError):
    """Not allowed."""

    code = "forbidden"


class RateLimited(JobqError):
    """Too many failed authentications; try again later."""

    code = "rate_limited"


class StoreUnavailable(JobqError):
    """The job store is unavailable; try again shortly."""

    code = "store_unavailable"
