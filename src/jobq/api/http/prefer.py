"""The HTTP `Prefer` header (RFC 7240), as far as jobq honours it: `return=minimal`.

A producer that enqueues in batches seldom needs each job's whole document back; asked for
`return=minimal`, `POST /jobs` answers each job with its id, state and `created` only, and says
so with `Preference-Applied`. Preferences jobq does not know are ignored, as the RFC asks.
"""

from __future__ import annotations

from collections.abc import Iterable

MINIMAL_APPLIED = {"Preference-Applied": "return=minimal"}


def prefers_minimal(headers: Iterable[str]) -> bool:
    """Whether any `Prefer` header value asks for `return=minimal` (case and spaces aside,
    the value possibly quoted, parameters after `;` ignored)."""
    for header in headers:
        for preference in header.split(","):
            name, _, value = preference.split(";", 1)[0].partition("=")
            if name.strip().lower() == "return" and value.strip().strip('"').lower() == "minimal":
                return True
    return False
