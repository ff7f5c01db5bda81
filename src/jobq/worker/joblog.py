"""A job's log as the worker writes it: lines timestamped when they are written, shipped to
`POST /jobs/{id}/logs` in batches, in order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jobq.client import AsyncClient
from jobq.worker.batch import Batcher

MAX_BATCH = 5000  # lines per request
LINGER = 0.1  # seconds a line may wait for others to share its request


class JobLog:
    def __init__(self, client: AsyncClient, job_id: str) -> None:
        self.client = client
        self.job_id = job_id
        self._batcher: Batcher[dict[str, Any]] | None = None  # made by the first line

    def write(self, text: str, stream: str = "stdout") -> None:
        now = datetime.now(UTC).isoformat()
        if self._batcher is None:
            what = f"log batch of job {self.job_id}"
            self._batcher = Batcher(self._send, MAX_BATCH, LINGER, what=what)
        self._batcher.put({"time": now, "stream": stream, "text": text})

    async def room(self) -> None:
        """Wait while the server is behind (keeps a chatty job from filling memory)."""
        if self._batcher is not None:
            await self._batcher.room()

    async def close(self) -> None:
        """Every line written so far is on the server once this returns."""
        if self._batcher is not None:
            await self._batcher.close()

    async def _send(self, entries: list[dict[str, Any]]) -> None:
        await self.client.append_logs(self.job_id, entries)
