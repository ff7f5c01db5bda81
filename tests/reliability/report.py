"""Turn the reliability results file into reliability/RESULTS.md:
`python -m tests.reliability.report [results.json] [RESULTS.md]`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

SUMMED = {
    "crashes survived": [("server_crash_sqlite", "crashes"), ("server_crash_postgres", "crashes"),
                         ("worker_crash", "workers_killed")],
    "faults survived": [("fault_disk_full", None), ("fault_postgres_restart", None)],
    "requests fuzzed": [(s, "requests") for s in ("fuzz_native", "fuzz_titan-0.2",
                        "fuzz_titan-0.3", "fuzz_accepted", "fuzz_connect")],
    "jobs lost": [(s, "jobs_lost") for s in ("server_crash_sqlite", "server_crash_postgres",
                  "worker_crash", "fault_disk_full", "fault_postgres_restart", "soak")],
}  # fmt: skip


def total(results: dict[str, Any], parts: list[tuple[str, str | None]]) -> int:
    found = 0
    for section, key in parts:
        if section in results:
            found += 1 if key is None else int(results[section].get(key, 0))
    return found


def render(results: dict[str, Any], load: str) -> str:
    lines = ["# jobq reliability results", "",
             "Written by `make reliability` (tests/reliability/, JOBQ_RELIABILITY=full).",
             f"Machine load (1, 5, 15 min) when written: {load}.", "",
             "| figure | value |", "|---|---|"]  # fmt: skip
    lines += [f"| {name} | {total(results, parts)} |" for name, parts in SUMMED.items()]
    lines += ["", "## Each test's figures", ""]
    for section in sorted(results):
        figures = ", ".join(f"{k}={v}" for k, v in results[section].items())
        lines.append(f"- **{section}**: {figures}")
    return "\n".join(lines) + "\n"


def main() -> None:
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "reliability/results.json")
    target = Path(sys.argv[2] if len(sys.argv) > 2 else "reliability/RESULTS.md")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    target.write_text(render(json.loads(source.read_text()), load))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
