"""Callback delivery: POST a finished job to its callback_url, from the durable outbox.

Never on the request path. Private, loopback, link-local and reserved targets are refused
unless an operator allowed them (`--callback-allow` CIDRs); redirects are followed by hand, each
target checked the same way; every request has a bounded timeout; failures retry with backoff.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Sequence
from urllib.parse import urljoin, urlsplit

import httpx

from jobq.model import Callback
from jobq.render import job_document
from jobq.rules import backoff_delay
from jobq.store.base import Store

log = logging.getLogger("jobq.callbacks")
MAX_ATTEMPTS = 10
MAX_REDIRECTS = 3
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class CallbackRefused(Exception):
    """The target address is not allowed."""


class CallbackSender:
    def __init__(self, store: Store, allow: Sequence[str] = (), timeout: float = 10.0) -> None:
        self.store = store
        self.timeout = timeout
        self.allow: list[IPNetwork] = [ipaddress.ip_network(a, strict=False) for a in allow]
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def close(self) -> None:
        await self._client.aclose()

    async def send_due(self, now: float) -> int:
        due = await self.store.due_callbacks(now, 100, lease=self.timeout * (MAX_REDIRECTS + 2))
        await asyncio.gather(*(self._deliver(cb, now) for cb in due))
        return len(due)

    async def _deliver(self, callback: Callback, now: float) -> None:
        job = await self.store.get(callback.job_id)
        if job is None:
            await self.store.callback_sent(callback.id)  # purged meanwhile: nothing to say
            return
        try:
            await self.post(callback.url, job_document(job))
        except (httpx.HTTPError, CallbackRefused, OSError, ValueError) as exc:
            await self._retry_later(callback, now, exc)
            return
        await self.store.callback_sent(callback.id)

    async def _retry_later(self, callback: Callback, now: float, exc: Exception) -> None:
        attempts = callback.attempts + 1
        final = isinstance(exc, CallbackRefused) or attempts >= MAX_ATTEMPTS
        next_at = None if final else now + backoff_delay(attempts, 2.0, 600.0)
        log.warning("callback for job %s to %s failed (%s)%s", callback.job_id, callback.url,
                    exc, "; giving up" if final else "")  # fmt: skip
        await self.store.callback_failed(callback.id, next_at, str(exc))

    async def post(self, url: str, body: object) -> None:
        for _ in range(MAX_REDIRECTS + 1):
            await self.check_target(url)
            response = await self._client.post(url, json=body)
            if response.is_redirect and "location" in response.headers:
                url = urljoin(url, response.headers["location"])
                continue
            response.raise_for_status()
            return
        raise httpx.TooManyRedirects("too many redirects", request=response.request)

    async def check_target(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CallbackRefused(f"not an http(s) URL: {url}")
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(parts.hostname, parts.port or 80, type=socket.SOCK_STREAM)
        for info in infos:
            address = ipaddress.ip_address(info[4][0])
            if not address.is_global and not any(address in net for net in self.allow):
                raise CallbackRefused(f"{parts.hostname} resolves to non-public {address}")
