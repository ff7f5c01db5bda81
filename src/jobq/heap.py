"""The objects a process makes while it starts, kept out of the garbage collector's way.

A full collection (generation 2) visits every object the collector tracks, and in a jobq
process most of them are made at startup and live as long as the process: the modules,
FastAPI's routes and the Pydantic schemas behind them, the worker's HTTP client. Measured in
`jobq serve` under batched end-to-end load: a full collection every second, 72 ms each,
every one stopping the event loop and the SQLite writer (which needs the GIL between
statements). Frozen once the process has started (`gc.freeze()`: moved to a generation the
collector never visits), a full collection takes 3 ms. Objects made later are collected as
usual; what startup left behind as garbage stays, once.

The youngest generation is collected every YOUNG_THRESHOLD allocations instead of 700: at
700, a batch of 100 jobs in flight (their documents, futures, tasks) is traversed again
and again while it is alive and promoted into the older generations, whose collections
then traverse it once more. `bench.ab` at 10,000: the server's event loop -10% CPU per job
in batches end to end (+6.5% jobs/s), batched enqueue +4%; 50,000 measured no better. What
it costs: up to 10,000 more objects waiting to be found as cyclic garbage.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000


def freeze_startup_objects() -> None:
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 10, 10)
