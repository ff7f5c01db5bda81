"""Importing jobq changes nothing process-wide: the collector's settings, sqlite3's adapters,
logging and the event loop policy are set when a server, worker or store starts, not when a
module is imported (a program that imports jobq's client or models keeps its own)."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import asyncio, gc, json, logging, sqlite3, sys
def state():
    return {
        "gc_threshold": gc.get_threshold(),
        "gc_frozen": gc.get_freeze_count(),
        "sqlite_adapters": sorted(repr(k) for k in sqlite3.adapters),
        "root_handlers": len(logging.getLogger().handlers),
        "root_level": logging.getLogger().level,
        "loop_policy": type(asyncio.get_event_loop_policy()).__name__,
        "switch_interval": sys.getswitchinterval(),
        "recursion_limit": sys.getrecursionlimit(),
    }
before = state()
import jobq.cli, jobq.server, jobq.api.app, jobq.store.sqlite, jobq.worker.main, jobq.client
print(json.dumps([before, state()]))
"""


def test_importing_jobq_sets_nothing_process_wide() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    before, after = json.loads(out)
    assert after == before
