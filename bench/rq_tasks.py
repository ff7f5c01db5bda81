"""The no-op task for RQ."""

from __future__ import annotations


def noop() -> None:
    return None
