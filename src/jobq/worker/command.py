"""Command jobs: payload `{"argv": [...], "env": {...}, "cwd": "..."}` run as a subprocess.

The process runs in its own session (and so its own process group) so that stopping it stops
everything it started: SIGTERM to the group, SIGKILL after the grace period. Its stdout and
stderr are read as they come, split into lines, and written to the job's log in the order the
worker read them. Exit code 0 completes the job; anything else fails the attempt with
`exit_code` (a signal N shows as -N) and the last lines of its stderr in the error's details
(`stderr`, at most STDERR_LINES lines of at most STDERR_LINE characters): the reason a command
failed is usually there, and the error then says it without a read of the log.

A command snoozes its job (hands it back to run later without using an attempt, as a task's
`jobq.Snooze` does) by printing a line `JOBQ_SNOOZE=SECONDS` on stdout and exiting with code
75 (EX_TEMPFAIL, "try again later"). Both are needed: exit 75 alone is an ordinary failure, as
it always was (a program that exits 75 on its own must not run forever unnoticed), and the
line with any other exit code is only a line of the log. A value that is not a number of
seconds from 0 to a year fails the attempt (`bad_snooze`). The variable `JOBQ_SNOOZE_EXIT`
(75) in the command's environment names the code.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import deque
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from jobq.worker.joblog import JobLog
from jobq.worker.lease import Lease, StopReason
from jobq.worker.outcome import MAX_SNOOZE_SECONDS, Outcome, Snooze

CHUNK = 64 * 1024
LONGEST_LINE = 1024 * 1024  # a longer run without a newline is logged in pieces
SHUTDOWN_KILL_AFTER = 2.0  # at shutdown the job already had its grace period
STDERR_LINES = 20  # the last lines of stderr a failed command's error carries
STDERR_LINE = 1000  # characters kept of each
SNOOZE_EXIT = 75  # EX_TEMPFAIL: with a JOBQ_SNOOZE=SECONDS line on stdout, a snooze
SNOOZE_LINE = "JOBQ_SNOOZE="


@dataclass(slots=True)
class Command:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None

    @classmethod
    def parse(cls, payload: Any) -> Command:
        """The command in a payload; ValueError naming what is wrong."""
        if not isinstance(payload, dict):
            raise ValueError("a command job's payload must be an object with argv")
        argv, env, cwd = payload.get("argv"), payload.get("env") or {}, payload.get("cwd")
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            raise ValueError("argv must be a non-empty list of strings")
        if not isinstance(env, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in env.items()
        ):
            raise ValueError("env must be an object of strings")
        if cwd is not None and not isinstance(cwd, str):
            raise ValueError("cwd must be a string")
        return cls(argv, env, cwd)


def is_command(job_type: str, payload: Any) -> bool:
    return job_type == "command" or (isinstance(payload, dict) and "argv" in payload)


async def run_command(payload: Any, lease: Lease, log: JobLog, grace: float) -> Outcome:
    try:
        command = Command.parse(payload)
    except ValueError as exc:
        return Outcome.failure("bad_payload", str(exc), retryable=False)
    try:
        proc = await asyncio.create_subprocess_exec(
            *command.argv,
            env={**os.environ, "JOBQ_SNOOZE_EXIT": str(SNOOZE_EXIT), **command.env},
            cwd=command.cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        details = {"argv": command.argv, "errno": exc.errno}
        message = f"cannot start {command.argv[0]}: {exc}"
        return Outcome.failure("spawn_failed", message, details, retryable=False)
    return await _supervise(proc, lease, log, grace)


async def _supervise(
    proc: asyncio.subprocess.Process, lease: Lease, log: JobLog, grace: float
) -> Outcome:
    assert proc.stdout is not None and proc.stderr is not None
    stderr: deque[str] = deque(maxlen=STDERR_LINES)
    snooze: deque[str] = deque(maxlen=1)  # the last JOBQ_SNOOZE= line's value
    readers = asyncio.gather(
        _pump(proc.stdout, "stdout", log, snooze=snooze),
        _pump(proc.stderr, "stderr", log, stderr),
    )
    stoppers: list[asyncio.Task[None]] = []

    def stop(reason: StopReason) -> None:
        kill_after = SHUTDOWN_KILL_AFTER if reason == StopReason.shutdown else grace
        stoppers.append(asyncio.create_task(_terminate(proc, reason, kill_after, log)))

    lease.on_stop(stop)
    code = await proc.wait()
    _signal_group(proc.pid, signal.SIGKILL)  # whatever it left behind holds our pipes open
    await readers
    for stopper in stoppers:
        stopper.cancel()
    if code == 0:
        return Outcome(result={"exit_code": 0}, exit_code=0)
    if code == SNOOZE_EXIT and snooze:
        return snoozed(snooze[0])
    details = {"exit_code": code, "stderr": "\n".join(stderr)}
    return Outcome.failure("exit_code", _describe(code), details, exit_code=code)


async def _terminate(
    proc: asyncio.subprocess.Process, reason: StopReason, kill_after: float, log: JobLog
) -> None:
    log.write(f"jobq: stopping ({reason}): SIGTERM to the process group", "system")
    _signal_group(proc.pid, signal.SIGTERM)
    with suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(proc.wait()), kill_after)
        return
    log.write(f"jobq: still running after {kill_after:g}s: SIGKILL", "system")
    _signal_group(proc.pid, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def snoozed(value: str) -> Outcome:
    """The outcome of a command that asked to snooze for `value` seconds (JOBQ_SNOOZE=)."""
    try:
        return Outcome(snooze=Snooze(float(value)).seconds, exit_code=SNOOZE_EXIT)
    except ValueError:
        message = (
            f"the command asked to snooze for {value[:100]!r}: not a number of seconds "
            f"from 0 to {MAX_SNOOZE_SECONDS:.0f}"
        )
        return Outcome.failure("bad_snooze", message, exit_code=SNOOZE_EXIT)


async def _pump(
    stream: asyncio.StreamReader,
    name: str,
    log: JobLog,
    tail: deque[str] | None = None,
    snooze: deque[str] | None = None,
) -> None:
    """Copy a pipe into the log line by line, the last line even without a newline; the
    last lines also into `tail` (each cut to STDERR_LINE characters), the value of each
    JOBQ_SNOOZE= line into `snooze`."""
    pending = b""

    def write(raw: bytes) -> None:
        line = raw.decode(errors="replace")
        log.write(line, name)
        if tail is not None:
            tail.append(line[:STDERR_LINE])
        if snooze is not None and line.startswith(SNOOZE_LINE):
            snooze.append(line[len(SNOOZE_LINE) :].strip())

    while chunk := await stream.read(CHUNK):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            write(line)
        while len(pending) > LONGEST_LINE:
            write(pending[:LONGEST_LINE])
            pending = pending[LONGEST_LINE:]
        await log.room()
    if pending:
        write(pending)


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"
