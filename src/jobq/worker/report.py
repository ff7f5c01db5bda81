"""What a worker says of its work: a line per job as it starts and as it ends (with how long
it ran), a summary when the worker stops, and one line (not one per request) while the
server cannot be reached."""

from __future__ import annotations

import logging
import time
from collections import Counter

from jobq.client import ClaimedJob
from jobq.worker.outcome import Outcome

log = logging.getLogger("jobq.worker")
MESSAGE_MAX = 200  # characters of an error message in a job's log line
REMIND_EVERY = 60.0  # seconds between two lines saying the server still cannot be reached


class Tally:
    """Logs each job's start and end, and counts the ends for the summary."""

    def __init__(self) -> None:
        self.began = time.monotonic()
        self.ends: Counter[str] = Counter()

    def started(self, job: ClaimedJob) -> None:
        log.info(
            "job %s started: %s on %s, attempt %d of %d",
            job.id,
            job.type,
            job.queue,
            job.attempt,
            job.max_attempts,
        )

    def ended(self, job: ClaimedJob, outcome: Outcome, took: float) -> None:
        """The attempt ended with `outcome` after `took` seconds (as the worker reports it)."""
        if outcome.snooze is not None:
            self.ends["snoozed"] += 1
            log.info(
                "job %s snoozed after %s: runs again in %s",
                job.id,
                seconds(took),
                seconds(outcome.snooze),
            )
            return
        error = outcome.error
        if error is None:
            self.ends["succeeded"] += 1
            log.info("job %s succeeded in %s", job.id, seconds(took))
            return
        kind = "cancelled" if error.get("code") == "cancelled" else "failed"
        self.ends[kind] += 1
        log.warning("job %s %s after %s: %s", job.id, kind, seconds(took), first_line(error))

    def handed_back(self, job: ClaimedJob) -> None:
        self.ends["handed back"] += 1
        log.info("job %s handed back to its queue", job.id)

    def lost(self, job: ClaimedJob, took: float) -> None:
        self.ends["lost"] += 1
        log.warning(
            "job %s stopped after %s: its lease is no longer this worker's", job.id, seconds(took)
        )

    def summary(self) -> str:
        """All the jobs this worker ran, by how each ended, and for how long it ran."""
        ran = sum(self.ends.values())
        parts = [f"{n:,} {end}" for end, n in sorted(self.ends.items(), key=lambda e: -e[1])]
        uptime = seconds(time.monotonic() - self.began)
        return f"ran {ran:,} jobs in {uptime}" + (f": {', '.join(parts)}" if parts else "")


class Reach:
    """Whether the server answers: one line when it stops, a reminder each REMIND_EVERY
    seconds, and one line when it answers again (not a line per failed request)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.lost_at: float | None = None
        self.reminded_at = 0.0

    def failed(self, why: str) -> None:
        now = time.monotonic()
        if self.lost_at is None:
            self.lost_at = self.reminded_at = now
            log.warning("cannot reach jobq at %s (%s): retrying", self.url, why)
        elif now - self.reminded_at >= REMIND_EVERY:
            self.reminded_at = now
            log.warning(
                "still cannot reach jobq at %s after %s (%s): retrying",
                self.url,
                seconds(now - self.lost_at),
                why,
            )

    def answered(self) -> None:
        if self.lost_at is not None:
            log.info(
                "reached jobq at %s again after %s",
                self.url,
                seconds(time.monotonic() - self.lost_at),
            )
            self.lost_at = None


def seconds(value: float) -> str:
    """A duration for a log line: 0.052s, 1.3s, 2m 5s, 1h 4m."""
    if value < 1:
        return f"{value:.3f}s"
    if value < 60:
        return f"{value:.1f}s"
    minutes, secs = divmod(int(value), 60)
    return f"{minutes}m {secs}s" if minutes < 60 else f"{minutes // 60}h {minutes % 60}m"


def first_line(error: dict[str, object]) -> str:
    """An error as one line: its message's first line (at most MESSAGE_MAX characters), or
    its code."""
    message = str(error.get("message") or error.get("code") or "error").strip()
    line = message.splitlines()[0] if message else ""
    return line if len(line) <= MESSAGE_MAX else line[: MESSAGE_MAX - 1] + "…"
