"""Open streams and long polls keep checking who they serve.

A stream (`/api/v1/events`, a log stream, Connect's tail) or a long poll is authenticated when
it opens, like any request; `Standing` re-checks it while it stays open: every RECHECK_SECONDS
it identifies the request again (its key, or the dashboard's session cookie: the same
`identify` that authenticated it, kept in `request.state.identify_again`) and runs the
route's own permission check with the caller's current roles. A revoked key, a deleted user,
an ended session or a lost role ends the stream (`while_standing`) or turns the long poll's
answer into the interface's 401/403/404 (`Standing.confirm`). The Authenticator's cache
(`cache_seconds`) bounds how late a revocation made elsewhere is seen: a few seconds in all.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.requests import Request

from jobq.api.http.security import guard_of
from jobq.auth.guard import Guard
from jobq.errors import Forbidden, JobqError, NotFound, Unauthorized

RECHECK_SECONDS = 2.0
Check = Callable[[Guard], Awaitable[None]]
REFUSALS = (Unauthorized, Forbidden, NotFound)


async def no_further_check(guard: Guard) -> None:
    return None


class Standing:
    """Whether the caller of `request` may still do what it opened the stream for: `check`
    raises (NotFound, Forbidden) when it may not; `guard` is the caller's current Guard."""

    def __init__(
        self,
        request: Request,
        guard: Guard,
        check: Check = no_further_check,
        every: float = RECHECK_SECONDS,
    ) -> None:
        self.request = request
        self.guard = guard
        self.check = check
        self.every = every
        self._next = time.monotonic() + every

    async def holds(self) -> bool:
        """Re-check when RECHECK_SECONDS have passed since the last check (else True)."""
        if time.monotonic() < self._next:
            return True
        return await self._recheck() is None

    async def confirm(self) -> None:
        """Re-check now; raise the refusal (for a long poll's answer) if it no longer holds."""
        refusal = await self._recheck()
        if refusal is not None:
            raise refusal

    async def _recheck(self) -> JobqError | None:
        self._next = time.monotonic() + self.every
        again: Callable[[], Awaitable[None]] | None = getattr(
            self.request.state, "identify_again", None
        )
        try:
            if again is not None:
                await again()
            self.guard = await guard_of(self.request)
            await self.check(self.guard)
        except REFUSALS as refusal:
            return refusal
        except JobqError:  # rate-limited, store unavailable: cannot tell now; next time
            return None
        return None


async def standing(request: Request, check: Check = no_further_check) -> Standing:
    """The Standing of a request that has just passed `check` with its Guard."""
    guard = await guard_of(request)
    await check(guard)
    return Standing(request, guard, check)


async def while_standing(
    source: AsyncIterator[bytes], standing: Standing, farewell: bytes = b""
) -> AsyncIterator[bytes]:
    """`source`'s chunks for as long as `standing` holds (looked at every RECHECK_SECONDS even
    when the source is quiet); then `farewell`, and the stream ends."""
    pending: asyncio.Future[bytes] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(source))
            done, _ = await asyncio.wait({pending}, timeout=standing.every)
            if not await standing.holds():
                if farewell:
                    yield farewell
                return
            if not done:
                continue
            try:
                chunk = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield chunk
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(BaseException):
                await aclose()
