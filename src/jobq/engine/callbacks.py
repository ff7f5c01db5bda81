"""Callback delivery: POST a finished job to its callback_url, from the durable outbox.

Never on the request path. Private, loopback, link-local and reserved targets are refused
unless an operator allowed them (`--callback-allow` CIDRs). The host is resolved once per
request, every address it gives is checked, and the connection goes to exactly the address
that was checked (the URL carries it; the Host header and the TLS server name stay the
host's), so a resolver that answers differently the second time (DNS rebinding) changes
nothing. Redirects are followed by hand, each target resolved and checked the same way.

Each delivery has one overall deadline (`timeout`: connecting, sending, every redirect and
the whole answer), not a timeout per read, so a receiver that answers a byte at a time is cut
off. Deliveries run as tasks of their own, at most `concurrency` at once, none waiting for
another: a slow receiver holds one slot for at most the deadline, and every other callback
goes on. Failures retry with backoff.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import NamedTuple
from urllib.parse import urljoin, urlsplit

import httpx

from jobq import reserved
from jobq.engine.rules import backoff_delay
from jobq.model import Callback, Job
from jobq.render import job_document
from jobq.store.base import Store

log = logging.getLogger("jobq.callbacks")
MAX_ATTEMPTS = 10
MAX_REDIRECTS = 3
CONCURRENCY = 16  # deliveries in flight at once
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]


class CallbackRefused(Exception):
    """The target address is not allowed."""


class DeliveryTimeout(Exception):
    """The receiver did not answer in full within the delivery's deadline."""


class Pinned(NamedTuple):
    """A request target with its host replaced by the address that was checked."""

    url: str
    host_header: str
    server_name: str


async def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the system resolver)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class CallbackSender:
    def __init__(
        self,
        store: Store,
        allow: Sequence[str] = (),
        timeout: float = 10.0,
        concurrency: int = CONCURRENCY,
        resolver: Resolver = resolve,
        clock: Callable[[], float] = time.time,
        shapes: Mapping[str, Callable[[Job], object]] | None = None,
    ) -> None:
        self.store = store
        # the documents a callback may POST, by the job's `jobq.callback.shape` (an interface
        # whose producers expect their own document registers it; native otherwise)
        self.shapes: Mapping[str, Callable[[Job], object]] = shapes or {}
        self.timeout = timeout  # the overall deadline of one delivery
        self.concurrency = concurrency
        self.resolver = resolver
        self.clock = clock
        self.allow: list[IPNetwork] = [ipaddress.ip_network(a, strict=False) for a in allow]
        self.on_free: Callable[[], None] = lambda: None  # set by the duties: claim again
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._full = False  # the last claim took every free slot: more may be due

    async def close(self) -> None:
        for task in list(self._in_flight):
            task.cancel()
        await asyncio.gather(*self._in_flight, return_exceptions=True)
        await self._client.aclose()

    async def send_due(self, now: float) -> int:
        """Start delivering the callbacks due now, as many as there are free slots; returns
        at once (each delivery is a task of its own)."""
        free = self.concurrency - len(self._in_flight)
        if free <= 0:
            self._full = True
            return 0
        lease = self.timeout + 60.0  # no other round or node sends it meanwhile
        due = await self.store.due_callbacks(now, free, lease=lease)
        self._full = len(due) == free
        for callback in due:
            task = asyncio.create_task(self._deliver(callback), name=f"jobq-callback-{callback.id}")
            self._in_flight.add(task)
            task.add_done_callback(self._done)
        return len(due)

    async def settled(self) -> None:
        """Wait until every delivery started so far has ended (tests, a graceful stop)."""
        while self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if self._full:
            self._full = False
            self.on_free()

    async def _deliver(self, callback: Callback) -> None:
        """One delivery, then its outcome recorded; nothing it meets escapes (a job whose
        stored values cannot be rendered fails its callback, not the sender)."""
        try:
            problem = await self._attempt(callback)
        except Exception as exc:
            problem = exc
        try:
            if problem is None:
                await self.store.callback_sent(callback.id)
            else:
                await self._retry_later(callback, self.clock(), problem)
        except Exception:
            log.exception(
                "the outcome of the callback for job %s was not recorded", callback.job_id
            )

    async def _attempt(self, callback: Callback) -> Exception | None:
        """Deliver within the deadline; None when done, else what went wrong."""
        job = await self.store.get(callback.job_id)
        if job is None:
            return None  # purged meanwhile: nothing to say
        shape = reserved.read(job.metadata, reserved.CALLBACK_SHAPE, "native")
        body = self.shapes.get(shape, job_document)(job)
        try:
            async with asyncio.timeout(self.timeout):
                await self.post(callback.url, body)
        except TimeoutError:
            return DeliveryTimeout(f"no complete answer within {self.timeout:g} s")
        except (httpx.HTTPError, CallbackRefused, OSError, ValueError) as exc:
            return exc
        return None

    async def _retry_later(self, callback: Callback, now: float, exc: Exception) -> None:
        attempts = callback.attempts + 1
        final = isinstance(exc, CallbackRefused) or attempts >= MAX_ATTEMPTS
        next_at = None if final else now + backoff_delay(attempts, 2.0, 600.0)
        log.warning(
            "callback for job %s to %s failed (%s)%s",
            callback.job_id,
            callback.url,
            exc,
            "; giving up" if final else "",
        )
        await self.store.callback_failed(callback.id, next_at, str(exc))

    async def post(self, url: str, body: object) -> None:
        for _ in range(MAX_REDIRECTS + 1):
            target = await self.pin(url)
            response = await self._client.post(
                target.url,
                json=body,
                headers={"Host": target.host_header},
                extensions={"sni_hostname": target.server_name},
            )
            if response.is_redirect and "location" in response.headers:
                url = urljoin(url, response.headers["location"])
                continue
            response.raise_for_status()
            return
        raise httpx.TooManyRedirects("too many redirects", request=response.request)

    async def pin(self, url: str) -> Pinned:
        """Resolve `url`'s host once, check every address, and pin the request to the first."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CallbackRefused(f"not an http(s) URL: {url}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = [
            ipaddress.ip_address(a.split("%")[0]) for a in await self.resolver(parts.hostname, port)
        ]
        if not addresses:
            raise CallbackRefused(f"{parts.hostname} resolves to no address")
        for address in addresses:
            if not address.is_global and not any(address in net for net in self.allow):
                raise CallbackRefused(f"{parts.hostname} resolves to non-public {address}")
        pinned = httpx.URL(url).copy_with(host=str(addresses[0]))
        host_header = parts.netloc.rpartition("@")[2]
        return Pinned(str(pinned), host_header, parts.hostname)
