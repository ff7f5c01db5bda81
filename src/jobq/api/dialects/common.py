"""What every dialect asks of a request: who calls (the owner of the jobs it enqueues), the
worker a claim is made for, and who reports on a job without a lease token."""

from __future__ import annotations

from fastapi import Request

from jobq.api.http.security import guard_of
from jobq.engine import Reporter
from jobq.model import Worker


def owner(request: Request) -> str | None:
    """The caller's user name: the owner of the jobs it enqueues (None in the open mode)."""
    user = getattr(request.state, "user", None)
    return user if isinstance(user, str) else None


async def worker(request: Request, name: str) -> Worker:
    """The runner of a claim, with the caller as the holder of the leases it takes."""
    host = request.client.host if request.client else None
    return (await guard_of(request)).claimant(Worker(name, host))


async def reporter(request: Request) -> Reporter:
    """Who reports on a job: Titan runners carry no lease token, so the engine's `*_as` reports
    act for the caller, only if it claimed the job (or is an administrator); anyone else, or a
    report after a timeout or a cancel (no holder), is refused as stale (409)."""
    return (await guard_of(request)).principal
