"""The bench reads a worker's CPU from /proc (bench/cpu.py), so that a block counts the
jobs' cost and not the worker's start."""

from __future__ import annotations

import subprocess
import sys

from bench.cpu import processes_cpu

BURN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"


def test_a_process_cpu_is_read_while_it_runs() -> None:
    code = BURN + "print('burnt', flush=True)\ntime.sleep(30)\n"
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None and proc.stdout.readline() == "burnt\n"
            spent = processes_cpu([proc.pid])
            assert 0.25 <= spent < 3.0
            assert processes_cpu([proc.pid, proc.pid]) == 2 * spent  # summed over the pids
        finally:
            proc.kill()
