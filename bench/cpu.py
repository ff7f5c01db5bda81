"""CPU time a block of work cost: the server's event loop, its other threads, the workers.

When both cores are busy, throughput follows what each job costs in CPU, and the CPU per job
moves less with this machine's spells than jobs/s do. The server's threads are read from
`/proc/<pid>/task/<tid>/schedstat` (nanoseconds on a CPU; the loop is the thread whose id is
the process's); the workers, which the bench starts and reaps, from RUSAGE_CHILDREN.
"""

from __future__ import annotations

import resource
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


def usage(server_pid: int) -> Usage:
    loop, threads = _server_threads(server_pid)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Usage(loop, threads, children.ru_utime + children.ru_stime)


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
