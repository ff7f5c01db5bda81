"""CPU time a block of work cost: the server's event loop, its other threads, the workers.

When both cores are busy, throughput follows what each job costs in CPU, and the CPU per job
moves less with this machine's spells than jobs/s do. The server's threads are read from
`/proc/<pid>/task/<tid>/schedstat` (nanoseconds on a CPU; the loop is the thread whose id is
the process's); the workers' from `/proc/<pid>/stat`, from the moment their queue is resumed
to the last job done (`processes_cpu`): a worker's start (imports, an SSL context) costs ~0.8
s of CPU, which in a block of 20,000 jobs outweighed what the jobs themselves cost it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Usage:
    """Seconds of CPU so far (or, as `per`'s answer, microseconds per unit of work)."""

    loop: float
    threads: float
    workers: float

    def per(self, earlier: Usage, units: int) -> Usage:
        scale = 1e6 / max(units, 1)
        return Usage((self.loop - earlier.loop) * scale, (self.threads - earlier.threads) * scale,
                     (self.workers - earlier.workers) * scale)  # fmt: skip


def usage(server_pid: int, workers: float = 0.0) -> Usage:
    """The server's CPU so far, and `workers` seconds of the workers'."""
    loop, threads = _server_threads(server_pid)
    return Usage(loop, threads, workers)


def processes_cpu(pids: Iterable[int]) -> float:
    """Seconds of CPU the processes `pids` have used so far (user and system)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat
    return total / ticks


def _server_threads(pid: int) -> tuple[float, float]:
    loop = threads = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            seconds = int((task / "schedstat").read_text().split()[0]) / 1e9
        except (FileNotFoundError, ProcessLookupError):  # a thread that just ended
            continue
        if task.name == str(pid):
            loop += seconds
        else:
            threads += seconds
    return loop, threads
