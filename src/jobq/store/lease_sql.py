"""What a claim writes into a job, as SQL both stores share: each changed column's new value
from the row as it was (`{row}`), in the store's own parameter notation for the lease
seconds (None: the job's own), the time and the worker. A claim's UPDATE and a hand-over's
INSERT (a new job written already leased) both build their statements from it."""

from __future__ import annotations

from dataclasses import dataclass

LEASED = {
    "state": "'running'",
    "attempt": "{row}.attempt + 1",
    "lease_seconds": "coalesce({seconds}, {row}.lease_seconds)",
    "lease_expires_at": "{now} + coalesce({seconds}, {row}.lease_seconds)",
    "started_at": "coalesce({row}.started_at, {now})",
    "deadline_at": "CASE WHEN {row}.deadline_seconds IS NULL THEN NULL "
    "ELSE coalesce({row}.deadline_at, {now} + {row}.deadline_seconds) END",
    "last_heartbeat_at": "{now}",
    "worker": "{worker}",
    "updated_at": "{now}",
    "cancel_requested": "0",
}


@dataclass(frozen=True, slots=True)
class LeaseParams:
    """Where a store's statement holds the lease's values."""

    seconds: str
    now: str
    worker: str

    def leased(self, column: str, row: str) -> str:
        """The value a claim gives `column` of the job `row` (the column itself if untouched)."""
        expression = LEASED.get(column)
        if expression is None:
            return f"{row}.{column}"
        return expression.format(row=row, seconds=self.seconds, now=self.now, worker=self.worker)
