"""Rounds into figures: median, min and max; percentiles of latency samples."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


@dataclass(slots=True)
class Figure:
    """One measured quantity over several rounds."""

    scenario: str
    store: str
    name: str
    unit: str
    rounds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.rounds) if self.rounds else float("nan")

    @property
    def low(self) -> float:
        return min(self.rounds) if self.rounds else float("nan")

    @property
    def high(self) -> float:
        return max(self.rounds) if self.rounds else float("nan")

    def as_dict(self) -> dict[str, object]:
        return {"scenario": self.scenario, "store": self.store, "name": self.name,
                "unit": self.unit, "rounds": self.rounds, "median": self.median,
                "min": self.low, "max": self.high}  # fmt: skip


def percentile(samples: list[float], p: float) -> float:
    """The p-th percentile (0..100), nearest rank."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]
