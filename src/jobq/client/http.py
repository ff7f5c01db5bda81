"""`Client` (blocking, over httpx) and `AsyncClient` (asyncio, over aiohttp): the native API.

Both send the same `Call`s (see `jobq.client.calls`) and raise the same errors (see
`jobq.client.errors`); their methods have the same names and arguments. The asynchronous one
is what `jobq worker` runs on, so it uses aiohttp: measured here, an aiohttp request costs the
client about a fifth of the CPU of an httpx one (141 us against 770 us), and a worker's
throughput with small claims is bound by exactly that (its wire details: jobq.client.wire).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

import aiohttp
import httpx

from jobq.client import calls
from jobq.client.calls import Call, NewJob, Reply, WorkerId
from jobq.client.errors import TransportError, error_for, reason_of
from jobq.client.sse import SSEDecoder
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
    QueueLimits,
    QueueLimitsInfo,
    Receipt,
    WorkerInfo,
)
from jobq.client.wire import JSON_HEADERS, encode, lines_of, query_pairs

T = TypeVar("T")
When = datetime | None  # a time to run at, where one may be given
DEFAULT_URL = "http://127.0.0.1:8080"


class _Base:
    def __init__(
        self,
        url: str | None = None,
        *,
        key: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.url = (url or os.environ.get("JOBQ_URL") or DEFAULT_URL).rstrip("/")
        self.api = f"{self.url}/api/v1"
        self.timeout = timeout
        key = key or token or os.environ.get("JOBQ_KEY") or os.environ.get("JOBQ_TOKEN")
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}

    @staticmethod
    def _read(call: Call[T], reply: Reply) -> T:
        if reply.status_code >= 400:
            try:
                body = reply.json()
            except ValueError:
                body = None
            raise error_for(reply.status_code, body, reply.text)
        return call.read(reply)


def _jobs(jobs: Iterable[NewJob | dict[str, Any]]) -> list[NewJob]:
    return [j if isinstance(j, NewJob) else NewJob(**j) for j in jobs]


class Client(_Base):
    """A blocking client of a jobq server: `with jobq.Client(url, key=...) as c: ...`.
    `key` (else JOBQ_KEY) is an API key, sent as `Authorization: Bearer`; `token` is its
    older name."""

    def __init__(
        self,
        url: str | None = None,
        *,
        key: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        super().__init__(url, key=key, token=token, timeout=timeout)
        self.http = httpx.Client(base_url=self.api, headers=self.headers)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def send(self, call: Call[T]) -> T:
        try:
            timeout = httpx.Timeout(self.timeout + call.wait)
            response = self.http.request(
                call.method,
                call.path,
                params=call.params,
                json=call.json,
                headers=call.headers,
                timeout=timeout,
            )
        except httpx.HTTPError as exc:
            why = reason_of(exc)
            raise TransportError(f"cannot reach jobq at {self.url}: {why}", why) from exc
        return self._read(call, Reply(response.status_code, response.content))

    # --- jobs ---

    def enqueue(
        self, queue: str = "default", type: str = "default", payload: Any = None, **options: Any
    ) -> Job:
        """Enqueue one job; `options` are the fields of `NewJob` (priority, delay, ...)."""
        return self.send(calls.enqueue(NewJob(queue, type, payload, **options)))

    def enqueue_many(self, jobs: Iterable[NewJob | dict[str, Any]]) -> list[Job]:
        """Enqueue all or none."""
        return self.send(calls.enqueue_many(_jobs(jobs)))

    def enqueue_receipts(self, jobs: Iterable[NewJob | dict[str, Any]]) -> list[Receipt]:
        """Enqueue all or none; each job answered by its id, state and `created` only
        (lighter for the server and the client than whole jobs)."""
        return self.send(calls.enqueue_receipts(_jobs(jobs)))

    def list_jobs(self, **filters: Any) -> JobPage:
        """One page of jobs; filters as `calls.list_jobs` (queue, state, cursor, ...)."""
        return self.send(calls.list_jobs(**filters))

    def iter_jobs(self, **filters: Any) -> Iterator[Job]:
        """Every job that matches, following the cursor page by page."""
        cursor = None
        while True:
            page = self.list_jobs(**filters, cursor=cursor)
            yield from page.jobs
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def get(self, job_id: str, wait: float = 0.0) -> Job:
        """A job; with `wait`, blocks until it has finished or `wait` seconds passed."""
        return self.send(calls.get(job_id, wait))

    def update(
        self,
        job_id: str,
        *,
        priority: int | None = None,
        run_at: datetime | None = None,
        metadata: dict[str, str] | None = None,
    ) -> Job:
        return self.send(calls.update(job_id, priority=priority, run_at=run_at, metadata=metadata))

    def delete(self, job_id: str) -> None:
        self.send(calls.delete(job_id))

    def delete_many(self, job_ids: Sequence[str]) -> list[Deletion]:
        return self.send(calls.delete_many(job_ids))

    def cancel(self, job_id: str, reason: str | None = None, details: Any = None) -> Job:
        return self.send(calls.cancel(job_id, reason, details))

    def retry(self, job_id: str) -> Job:
        return self.send(calls.retry(job_id))

    def attempts(self, job_id: str) -> list[Attempt]:
        return self.send(calls.attempts(job_id))

    # --- workers ---

    def claim(
        self,
        queues: Sequence[str],
        worker: WorkerId | str,
        *,
        types: Sequence[str] | None = None,
        max: int = 1,
        wait: float = 0.0,
        lease_seconds: float | None = None,
    ) -> list[ClaimedJob]:
        who = WorkerId(worker) if isinstance(worker, str) else worker
        return self.send(
            calls.claim(queues, who, types=types, max=max, wait=wait, lease_seconds=lease_seconds)
        )

    def heartbeat(
        self, job_id: str, token: str, progress: dict[str, Any] | None = None
    ) -> Heartbeat:
        return self.send(calls.heartbeat(job_id, token, progress))

    def complete(self, job_id: str, token: str, result: Any = None) -> Job:
        return self.send(calls.complete(job_id, token, result))

    def fail(
        self,
        job_id: str,
        token: str,
        error: dict[str, Any] | None = None,
        *,
        retryable: bool = True,
        exit_code: int | None = None,
    ) -> Job:
        return self.send(calls.fail(job_id, token, error, retryable=retryable, exit_code=exit_code))

    def release(self, job_id: str, token: str) -> Job:
        return self.send(calls.release(job_id, token))

    def snooze(
        self, job_id: str, token: str, seconds: float | None = None, *, run_at: When = None
    ) -> Job:
        """Hand a claimed job back to run `seconds` from now, or at `run_at` (no attempt)."""
        return self.send(calls.snooze(job_id, token, seconds, run_at))

    def ack(self, items: Sequence[AckItem]) -> list[AckResult]:
        return self.send(calls.ack(items))

    def ack_and_claim(
        self,
        items: Sequence[AckItem],
        queues: Sequence[str],
        worker: WorkerId | str,
        *,
        types: Sequence[str] | None = None,
        max: int = 1,
        wait: float = 0.0,
        lease_seconds: float | None = None,
    ) -> tuple[list[AckResult], list[ClaimedJob]]:
        """Acknowledge `items`, then claim, in one round trip."""
        who = WorkerId(worker) if isinstance(worker, str) else worker
        return self.send(
            calls.ack_and_claim(
                items, queues, who, types=types, max=max, wait=wait, lease_seconds=lease_seconds
            )
        )

    # --- logs ---

    def append_logs(self, job_id: str, entries: Sequence[dict[str, Any] | str]) -> int:
        return self.send(calls.append_logs(job_id, entries))

    def logs(
        self, job_id: str, *, after: int = 0, tail: int | None = None, limit: int = 10_000
    ) -> LogPage:
        return self.send(calls.logs(job_id, after=after, tail=tail, limit=limit))

    def log_text(self, job_id: str) -> str:
        return self.send(calls.log_text(job_id))

    def follow_logs(self, job_id: str, after: int = 0) -> Iterator[LogEntry]:
        """Each log entry as it is written, until the job has finished."""
        for event in self._stream(f"/jobs/{job_id}/logs/stream", {"after": after}):
            if event.event == "end":
                return
            if event.event == "log":
                yield LogEntry.parse(event.data)

    def events(self) -> Iterator[Event]:
        """Every transition from now on (`Event.data` has id, queue, from, to, at)."""
        yield from self._stream("/events", None)

    def _stream(self, path: str, params: Any) -> Iterator[Event]:
        decoder = SSEDecoder()
        timeout = httpx.Timeout(self.timeout, read=None)
        try:
            with self.http.stream("GET", path, params=params, timeout=timeout) as response:
                if response.status_code >= 400:
                    reply = Reply(response.status_code, response.read())
                    self._read(Call("GET", path, lambda r: None), reply)
                for line in response.iter_lines():
                    event = decoder.feed(line)
                    if event is not None:
                        yield event
        except httpx.HTTPError as exc:
            raise TransportError(f"stream from {self.url} broke: {exc}") from exc

    # --- queues, workers, health ---

    def queues(self) -> list[Queue]:
        return self.send(calls.queues())

    def pause(self, queue: str) -> None:
        self.send(calls.pause(queue))

    def resume(self, queue: str) -> None:
        self.send(calls.resume(queue))

    def queue_limits(self, queue: str) -> QueueLimitsInfo:
        """The queue's flow limits, whether it is paused, and how many of its jobs run."""
        return self.send(calls.queue_limits(queue))

    def set_queue_limits(self, queue: str, limits: QueueLimits) -> QueueLimitsInfo:
        """Replace the queue's flow limits as a whole (None: none; see `QueueLimits`)."""
        return self.send(calls.set_queue_limits(queue, limits))

    def clear_queue_limits(self, queue: str) -> QueueLimitsInfo:
        return self.send(calls.clear_queue_limits(queue))

    def workers(self) -> list[WorkerInfo]:
        return self.send(calls.workers())

    def problems(self) -> list[Problem]:
        """Why jobs cannot go on now, for the queues the key may see."""
        return self.send(calls.problems())

    def problem(self, problem_id: str) -> Problem:
        """One problem; NotFound once its cause is gone."""
        return self.send(calls.problem(problem_id))

    def healthz(self) -> bool:
        return self.send(calls.healthz())


class AsyncClient(_Base):
    """An asyncio client of a jobq server: `async with jobq.AsyncClient(url) as c: ...`."""

    def __init__(
        self,
        url: str | None = None,
        *,
        key: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
        max_connections: int = 100,
    ) -> None:
        super().__init__(url, key=key, token=token, timeout=timeout)
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        """The session, made on first use (aiohttp wants a running event loop for it)."""
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self.max_connections)
            self._session = aiohttp.ClientSession(headers=self.headers, connector=connector)
        return self._session

    async def send(self, call: Call[T]) -> T:
        headers = None if call.json is None else JSON_HEADERS
        if call.headers:
            headers = {**(headers or {}), **call.headers}
        data = None if call.json is None else encode(call.json)
        timeout = aiohttp.ClientTimeout(total=self.timeout + call.wait)
        try:
            async with self._http().request(
                call.method,
                self.api + call.path,
                params=query_pairs(call.params),
                data=data,
                headers=headers,
                timeout=timeout,
            ) as response:
                reply = Reply(response.status, await response.read())
        except (TimeoutError, aiohttp.ClientError) as exc:
            why = reason_of(exc)
            raise TransportError(f"cannot reach jobq at {self.url}: {why}", why) from exc
        return self._read(call, reply)

    # --- jobs ---

    async def enqueue(
        self, queue: str = "default", type: str = "default", payload: Any = None, **options: Any
    ) -> Job:
        """Enqueue one job; `options` are the fields of `NewJob` (priority, delay, ...)."""
        return await self.send(calls.enqueue(NewJob(queue, type, payload, **options)))

    async def enqueue_many(self, jobs: Iterable[NewJob | dict[str, Any]]) -> list[Job]:
        return await self.send(calls.enqueue_many(_jobs(jobs)))

    async def enqueue_receipts(self, jobs: Iterable[NewJob | dict[str, Any]]) -> list[Receipt]:
        return await self.send(calls.enqueue_receipts(_jobs(jobs)))

    async def list_jobs(self, **filters: Any) -> JobPage:
        return await self.send(calls.list_jobs(**filters))

    async def iter_jobs(self, **filters: Any) -> AsyncIterator[Job]:
        cursor = None
        while True:
            page = await self.list_jobs(**filters, cursor=cursor)
            for job in page.jobs:
                yield job
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def get(self, job_id: str, wait: float = 0.0) -> Job:
        return await self.send(calls.get(job_id, wait))

    async def update(
        self,
        job_id: str,
        *,
        priority: int | None = None,
        run_at: datetime | None = None,
        metadata: dict[str, str] | None = None,
    ) -> Job:
        call = calls.update(job_id, priority=priority, run_at=run_at, metadata=metadata)
        return await self.send(call)

    async def delete(self, job_id: str) -> None:
        await self.send(calls.delete(job_id))

    async def delete_many(self, job_ids: Sequence[str]) -> list[Deletion]:
        return await self.send(calls.delete_many(job_ids))

    async def cancel(self, job_id: str, reason: str | None = None, details: Any = None) -> Job:
        return await self.send(calls.cancel(job_id, reason, details))

    async def retry(self, job_id: str) -> Job:
        return await self.send(calls.retry(job_id))

    async def attempts(self, job_id: str) -> list[Attempt]:
        return await self.send(calls.attempts(job_id))

    # --- workers ---

    async def claim(
        self,
        queues: Sequence[str],
        worker: WorkerId | str,
        *,
        types: Sequence[str] | None = None,
        max: int = 1,
        wait: float = 0.0,
        lease_seconds: float | None = None,
    ) -> list[ClaimedJob]:
        who = WorkerId(worker) if isinstance(worker, str) else worker
        return await self.send(
            calls.claim(queues, who, types=types, max=max, wait=wait, lease_seconds=lease_seconds)
        )

    async def heartbeat(
        self, job_id: str, token: str, progress: dict[str, Any] | None = None
    ) -> Heartbeat:
        return await self.send(calls.heartbeat(job_id, token, progress))

    async def complete(self, job_id: str, token: str, result: Any = None) -> Job:
        return await self.send(calls.complete(job_id, token, result))

    async def fail(
        self,
        job_id: str,
        token: str,
        error: dict[str, Any] | None = None,
        *,
        retryable: bool = True,
        exit_code: int | None = None,
    ) -> Job:
        return await self.send(
            calls.fail(job_id, token, error, retryable=retryable, exit_code=exit_code)
        )

    async def release(self, job_id: str, token: str) -> Job:
        return await self.send(calls.release(job_id, token))

    async def snooze(
        self, job_id: str, token: str, seconds: float | None = None, *, run_at: When = None
    ) -> Job:
        """Hand a claimed job back to run `seconds` from now, or at `run_at` (no attempt)."""
        return await self.send(calls.snooze(job_id, token, seconds, run_at))

    async def ack(self, items: Sequence[AckItem]) -> list[AckResult]:
        return await self.send(calls.ack(items))

    async def ack_and_claim(
        self,
        items: Sequence[AckItem],
        queues: Sequence[str],
        worker: WorkerId | str,
        *,
        types: Sequence[str] | None = None,
        max: int = 1,
        wait: float = 0.0,
        lease_seconds: float | None = None,
    ) -> tuple[list[AckResult], list[ClaimedJob]]:
        """Acknowledge `items`, then claim, in one round trip; the claim long-polls as
        `claim` does, after the acknowledgements are stored."""
        who = WorkerId(worker) if isinstance(worker, str) else worker
        call = calls.ack_and_claim(
            items, queues, who, types=types, max=max, wait=wait, lease_seconds=lease_seconds
        )
        return await self.send(call)

    # --- logs ---

    async def append_logs(self, job_id: str, entries: Sequence[dict[str, Any] | str]) -> int:
        return await self.send(calls.append_logs(job_id, entries))

    async def logs(
        self, job_id: str, *, after: int = 0, tail: int | None = None, limit: int = 10_000
    ) -> LogPage:
        return await self.send(calls.logs(job_id, after=after, tail=tail, limit=limit))

    async def log_text(self, job_id: str) -> str:
        return await self.send(calls.log_text(job_id))

    async def follow_logs(self, job_id: str, after: int = 0) -> AsyncIterator[LogEntry]:
        async for event in self._stream(f"/jobs/{job_id}/logs/stream", {"after": after}):
            if event.event == "end":
                return
            if event.event == "log":
                yield LogEntry.parse(event.data)

    async def events(self) -> AsyncIterator[Event]:
        async for event in self._stream("/events", None):
            yield event

    async def _stream(self, path: str, params: Any) -> AsyncIterator[Event]:
        decoder = SSEDecoder()
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout)
        try:
            async with self._http().get(
                self.api + path, params=query_pairs(params), timeout=timeout
            ) as response:
                if response.status >= 400:
                    reply = Reply(response.status, await response.read())
                    self._read(Call("GET", path, lambda r: None), reply)
                async for line in lines_of(response.content):
                    event = decoder.feed(line)
                    if event is not None:
                        yield event
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise TransportError(f"stream from {self.url} broke: {exc!r}") from exc

    # --- queues, workers, health ---

    async def queues(self) -> list[Queue]:
        return await self.send(calls.queues())

    async def pause(self, queue: str) -> None:
        await self.send(calls.pause(queue))

    async def resume(self, queue: str) -> None:
        await self.send(calls.resume(queue))

    async def queue_limits(self, queue: str) -> QueueLimitsInfo:
        """The queue's flow limits, whether it is paused, and how many of its jobs run."""
        return await self.send(calls.queue_limits(queue))

    async def set_queue_limits(self, queue: str, limits: QueueLimits) -> QueueLimitsInfo:
        """Replace the queue's flow limits as a whole (None: none; see `QueueLimits`)."""
        return await self.send(calls.set_queue_limits(queue, limits))

    async def clear_queue_limits(self, queue: str) -> QueueLimitsInfo:
        return await self.send(calls.clear_queue_limits(queue))

    async def workers(self) -> list[WorkerInfo]:
        return await self.send(calls.workers())

    async def problems(self) -> list[Problem]:
        """Why jobs cannot go on now, for the queues the key may see."""
        return await self.send(calls.problems())

    async def problem(self, problem_id: str) -> Problem:
        """One problem; NotFound once its cause is gone."""
        return await self.send(calls.problem(problem_id))

    async def healthz(self) -> bool:
        return await self.send(calls.healthz())
