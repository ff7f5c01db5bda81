"""Reserved metadata: the `jobq.` keys the engine itself reads.

Metadata is the producer's, string to string, except under the `jobq.` prefix, where a key
asks jobq for something (`engine.respawn`). Each reserved key has a kind and bounds; a value
outside them is refused at intake, on every interface (the engine checks every job it builds
and every metadata change), and a `jobq.` key jobq does not know is refused too, so that the
prefix stays free for keys to come.

Values stored before these checks (or written to the database by hand) are read totally: the
readers below give the key's default for anything they cannot use, never NaN, an infinity or
an exception, so no stored value can stop the background duties or a listing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from jobq.errors import InvalidInput

PREFIX = "jobq."
RESPAWN_REMAINING = "jobq.respawn.remaining"
RESPAWN_DELAY = "jobq.respawn.delay"
CALLBACK_SHAPE = "jobq.callback.shape"  # the document a callback POSTs (jobq.engine.callbacks)
CALLBACK_SHAPES = ("native", "accepted")
MAX_RESPAWNS = 1000
MAX_DELAY = 10 * 365 * 86400.0  # the longest delay any interface accepts


def _count(text: str) -> int:
    """A whole number of respawns, 0 to MAX_RESPAWNS, in decimal digits."""
    if not (text.isascii() and text.isdigit() and len(text) <= 4):
        raise ValueError
    count = int(text)
    if count > MAX_RESPAWNS:
        raise ValueError
    return count


def _seconds(text: str) -> float:
    """A finite number of seconds, 0 to MAX_DELAY."""
    if len(text) > 32:
        raise ValueError
    seconds = float(text)
    if not math.isfinite(seconds) or not 0.0 <= seconds <= MAX_DELAY:
        raise ValueError
    return seconds


def _shape(text: str) -> str:
    """The name of a callback document shape."""
    if text not in CALLBACK_SHAPES:
        raise ValueError
    return text


KEYS: dict[str, tuple[Callable[[str], Any], str]] = {
    CALLBACK_SHAPE: (_shape, f"one of {', '.join(CALLBACK_SHAPES)}"),
    RESPAWN_REMAINING: (_count, f"a whole number from 0 to {MAX_RESPAWNS}"),
    RESPAWN_DELAY: (_seconds, f"a number of seconds from 0 to {MAX_DELAY:.0f}"),
}


def check(metadata: Mapping[str, str]) -> None:
    """Refuse reserved keys jobq does not know and reserved values outside their bounds."""
    for key, value in metadata.items():
        if not key.startswith(PREFIX):
            continue
        if key not in KEYS:
            raise InvalidInput(
                f"metadata keys starting with {PREFIX!r} are reserved; {key!r} is not one jobq "
                f"knows ({', '.join(sorted(KEYS))})",
                key=key,
            )
        if read(metadata, key, None) is None:
            raise InvalidInput(
                f"metadata {key!r} must be {KEYS[key][1]}", key=key, value=str(value)[:100]
            )


def read(metadata: object, key: str, default: Any) -> Any:
    """The value of reserved `key` in stored `metadata`, or `default` when it is missing or
    cannot be used (whatever the database holds)."""
    value = metadata.get(key) if isinstance(metadata, Mapping) else None
    if not isinstance(value, str):
        return default
    try:
        return KEYS[key][0](value)
    except ValueError:
        return default
