"""Results into words and pictures: markdown tables, the targets, PNG charts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

Data = dict[str, Any]


def find(data: Data, scenario: str, store: str, name: str) -> float | None:
    for f in data["figures"]:
        if f["scenario"] == scenario and f["store"] == store and f["name"] == name:
            return float(f["median"])
    return None


def table(data: Data) -> list[str]:
    lines = ["| scenario | store | what | median | min | max | unit |",
             "|---|---|---|---:|---:|---:|---|"]  # fmt: skip
    for f in data["figures"]:
        lines.append(f"| {f['scenario']} | {f['store']} | {f['name']} | {f['median']:,.2f} | "
                     f"{f['min']:,.2f} | {f['max']:,.2f} | {f['unit']} |")  # fmt: skip
    return lines


def ratios(data: Data) -> list[str]:
    """jobq's end-to-end figures as multiples of each other queue's."""
    lines = ["| jobq | vs celery | vs rq | vs procrastinate |", "|---|---:|---:|---:|"]
    theirs = {name: find(data, "others", store, name)
              for name, store in (("celery", "redis"), ("rq", "redis"),
                                  ("procrastinate", "postgres"))}  # fmt: skip
    for store in ("sqlite", "postgres"):
        for mode in ("claims of 1", "claims of 1, 4 slots", "batches of 100"):
            ours = find(data, "end to end", store, mode)
            if ours is None:
                continue
            cells = [f"{ours / t:.1f}x" if t else "-" for t in theirs.values()]
            lines.append(f"| {store}, {mode} | " + " | ".join(cells) + " |")
    return lines


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def targets(data: Data) -> list[str]:
    """Each target of issue 9: held or not, and by how much."""
    celery = find(data, "others", "redis", "celery")
    proc = find(data, "others", "postgres", "procrastinate")
    backlog = data.get("backlog_sizes") or [1_000, 1_000_000]
    rows: list[tuple[str, float | None, float, bool]] = []  # what, value, target, bigger is better
    for store in ("sqlite", "postgres"):
        e1 = find(data, "end to end", store, "claims of 1")
        eb = find(data, "end to end", store, "batches of 100")
        rows += [
            (f"{store}: end to end, claims of 1 / Celery", _ratio(e1, celery), 2, True),
            (f"{store}: end to end, batched / Celery", _ratio(eb, celery), 10, True),
            (f"{store}: pick-up p50 (ms)", find(data, "pick-up", store, "p50"), 2, False),
            (f"{store}: pick-up p99 (ms)", find(data, "pick-up", store, "p99"), 10, False),
        ]
        small = find(data, "backlog", store, f"claim, {backlog[0]:,} waiting")
        big = find(data, "backlog", store, f"claim, {backlog[-1]:,} waiting")
        rows.append((f"{store}: claim with {backlog[-1]:,} / with {backlog[0]:,} waiting",
                     _ratio(big, small), 1.3, False))  # fmt: skip
        rss = find(data, "memory", store, f"RSS, {backlog[-1]:,} waiting")
        rows.append((f"{store}: server RSS with {backlog[-1]:,} waiting (MB)", rss, 200, False))
    rows.insert(
        0,
        (
            "sqlite: batched enqueue (jobs/s)",
            find(data, "enqueue", "sqlite", "100 jobs/request"),
            50_000,
            True,
        ),
    )
    for mode in ("claims of 1", "batches of 100"):
        rows.append(
            (
                f"postgres: end to end, {mode} / procrastinate",
                _ratio(find(data, "end to end", "postgres", mode), proc),
                3,
                True,
            )
        )
    lines = ["| target | measured | goal | holds |", "|---|---:|---:|---|"]
    for what, value, goal, bigger in rows:
        if value is None:
            lines.append(f"| {what} | not measured | {goal:,} | - |")
            continue
        ok = value >= goal if bigger else value <= goal
        off = value / goal if bigger else goal / value if value else float("inf")
        verdict = "yes" if ok else f"no ({off:.2f} of the goal)"
        lines.append(f"| {what} | {value:,.2f} | {'>=' if bigger else '<='} {goal:,} | {verdict} |")
    return lines


def markdown(data: Data) -> str:
    m = data["machine"]
    head = (f"jobq bench, scale {data['scale']}: {m['date']}, {m['cores']} cores, commit "
            f"{m['commit']}, Python {m['python']}, load average before "
            f"{', '.join(f'{x:.2f}' for x in m['load'])}, after "
            f"{', '.join(f'{x:.2f}' for x in m.get('load_after', m['load']))}")  # fmt: skip
    if "machine_earlier" in data:
        e = data["machine_earlier"]
        head += (
            f"; figures not measured in this run are from {e['date']}, commit "
            f"{e['commit']}, load average {', '.join(f'{x:.2f}' for x in e['load'])}"
        )
    parts = [head, "", *table(data), "", "jobq end to end as a multiple of the others:", "",
             *ratios(data), "", "Targets:", "", *targets(data), ""]  # fmt: skip
    return "\n".join(parts)


def charts(data: Data, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = data["machine"]
    note = f"{m['cores']} cores, commit {m['commit']}, {m['date']}"
    groups = {"enqueue": "jobs/s", "end to end": "jobs/s", "pick-up": "ms", "backlog": "ms",
              "memory": "MB", "others": "jobs/s"}  # fmt: skip
    for scenario, unit in groups.items():
        figs = [f for f in data["figures"] if f["scenario"] == scenario]
        if scenario == "others":
            figs += [{**f, "name": f"jobq {f['store']}, {f['name']}"}
                     for f in data["figures"] if f["scenario"] == "end to end"]  # fmt: skip
        if not figs:
            continue
        labels = [f"{f['name']}\n({f['store']})" if scenario != "others" else f["name"]
                  for f in figs]  # fmt: skip
        medians = [f["median"] for f in figs]
        errors = [[f["median"] - f["min"] for f in figs], [f["max"] - f["median"] for f in figs]]
        fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(figs)), 4.5))
        ax.bar(range(len(figs)), medians, yerr=errors, capsize=4, color="#4c72b0")
        ax.set_xticks(range(len(figs)), labels, fontsize=7, rotation=20, ha="right")
        ax.set_ylabel(unit)
        ax.set_title(f"{scenario} (median, min-max)\n{note}", fontsize=9)
        fig.tight_layout()
        fig.savefig(out / f"{scenario.replace(' ', '_').replace('-', '')}.png", dpi=100)
        plt.close(fig)
