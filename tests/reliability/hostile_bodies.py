"""Generated requests that carry what jobq must refuse or keep within bounds, for the fuzzing
suite: a case schemathesis generated for an operation, changed in one place.

- `poisoned`: one value anywhere in the JSON body (or a key of any object in it) replaced by
  what no store can keep exactly (a lone surrogate, a NUL, NaN, an infinity, 1e400, an integer
  past 64 bits), sent under a JSON media type of any case. Every route of every interface must
  refuse it with a 4xx in its own error shape (jobq.api.http.json_limits).
- `reserving`: an enqueue with reserved `jobq.*` metadata (or Titan's retry fields, which
  become it) in and out of bounds, on each interface that takes it. Whatever is answered,
  nothing out of bounds is stored (jobq.reserved), and every listing keeps answering.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

SENTINEL = "\x01jobq-hostile\x01"
LEAVES = {
    "lone surrogate": '"\\ud800"', "low surrogate": '"a\\udfffb"', "NUL": '"a\\u0000b"',
    "NaN": "NaN", "Infinity": "Infinity", "-Infinity": "-Infinity", "1e400": "1e400",
    "-1e400": "-1E+400", "2**64": "18446744073709551616", "-2**63-1": "-9223372036854775809",
}  # fmt: skip
KEYS = {"NUL in a key": '"\\u0000"', "surrogate in a key": '"\\udc00k"'}
MEDIA = ["application/json", "application/JSON", "APPLICATION/JSON",
         "Application/Json; charset=UTF-8", "application/vnd.jobq+JSON"]  # fmt: skip
RESERVED_KEYS = ["jobq.respawn.delay", "jobq.respawn.remaining", "jobq.anything", "jobq."]
RESERVED_VALUES = ["nan", "NaN", "inf", "-inf", "Infinity", "1e308", "1e400", "-1", "-0", "",
                   " 1", "1_0", "0x10", "\uff11", "\u0661", "1001", "1000", "3.5", "0",
                   "315360000", "315360001", "9" * 40]  # fmt: skip
IN_BOUNDS = ["0", "1", "5", "3.5", "1000", "0.001", "315360000"]
HUGE_NUMBERS = [1e308, 1e300, -1.0, -1e308, 315360001.0, 0.5, 1e-300, 2**63 - 1, 10**6]


@dataclass
class Hostile:
    """A body of raw bytes to send in place of a case's, under `media`."""

    label: str
    media: str
    body: bytes


def _paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value: each value's path, and each object's (to add a key)."""
    found = [at]
    if isinstance(value, dict):
        found += [p for k, v in value.items() for p in _paths(v, (*at, k))]
    elif isinstance(value, list):
        found += [p for i, v in enumerate(value) for p in _paths(v, (*at, i))]
    return found


def _put(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _put(value[path[0]], path[1:], new)
    return copy


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


@st.composite
def poisoned(draw: st.DrawFn, body: Any) -> Hostile:
    """`body` with one value, or a new key of one object, made unkeepable."""
    body = {} if body is None or isinstance(body, bytes | str) else body
    path = draw(st.sampled_from(_paths(body)))
    as_key = isinstance(_at(body, path), dict) and draw(st.booleans())
    name, raw = draw(st.sampled_from(sorted((KEYS if as_key else LEAVES).items())))
    if as_key:
        container = {**_at(body, path), SENTINEL: 1}
        text = json.dumps(_put(body, path, container)).replace(json.dumps(SENTINEL), raw)
    else:
        text = json.dumps(_put(body, path, SENTINEL)).replace(json.dumps(SENTINEL), raw)
    media = draw(st.sampled_from(MEDIA))
    where = "/".join(map(str, path)) or "the body"
    return Hostile(f"{name} at {where} as {media}", media, text.encode())


@dataclass
class Reserving:
    """An enqueue carrying reserved metadata: where to send it, and the metadata it asks for
    (Titan's retry fields become `jobq.respawn.*`)."""

    label: str
    path: str
    body: bytes
    metadata: dict[str, str]
    exact: bool  # whether jobq.reserved's verdict on `metadata` alone decides the answer


def _metadata() -> st.SearchStrategy[dict[str, str]]:
    keys = st.sampled_from(RESERVED_KEYS) | st.text(max_size=8).map(lambda t: "jobq." + t)
    values = (st.sampled_from(IN_BOUNDS) | st.sampled_from(RESERVED_VALUES)
              | st.text(max_size=12))  # fmt: skip
    return st.dictionaries(keys, values, min_size=1, max_size=2)


def _titan(draw: st.DrawFn, path: str, job: dict[str, Any]) -> Reserving:
    count = draw(st.integers(0, 20) | st.integers(-5, 1005) | st.sampled_from([10**6, 2**63 - 1]))
    delay = draw(st.floats(0, 3600) | st.sampled_from(HUGE_NUMBERS)
                 | st.floats(allow_nan=False, allow_infinity=False))  # fmt: skip
    body = {"jobs": [{**job, "max_retries": count, "retries_delay": delay}]}
    # Titan's own fields may refuse more than jobq.reserved (a negative count, say)
    metadata = {"jobq.respawn.remaining": str(count), "jobq.respawn.delay": f"{delay:g}"}
    return Reserving(f"{path} {count} {delay!r}", path, json.dumps(body).encode(), metadata,
                     exact=False)  # fmt: skip


@st.composite
def reserving(draw: st.DrawFn, interface: str) -> Reserving:
    """A new job on `interface` with reserved metadata in and out of bounds."""
    if interface == "titan-0.2":
        return _titan(draw, "/titan-0.2/v1/jobs", {"image": "i"})
    if interface == "titan-0.3":
        return _titan(draw, "/titan-0.3/v1/groups/g/jobs", {"image": "i", "priority": 0})
    metadata = draw(_metadata())
    if interface == "vidispine":
        pairs = "&".join(f"jobmetadata={quote(f'{k}={v}')}" for k, v in metadata.items())
        return Reserving(f"vidispine {metadata!r}", f"/API/job?type=t&{pairs}", b"", metadata,
                         exact=False)  # fmt: skip
    job = {"queue": "reserving", "metadata": metadata}
    body = {"jobs": [job]} if interface == "native batch" else job
    return Reserving(f"{interface} {metadata!r}", "/api/v1/jobs", json.dumps(body).encode(),
                     metadata, exact=True)  # fmt: skip


RESERVING = ["native", "native batch", "titan-0.2", "titan-0.3", "vidispine"]


# the error shape of each interface, as its refusals of bad input look
SHAPES = {
    "native": re.compile(rb'^\{"error":\{"code":"[a-z_]+","message":"'),
    "titan": re.compile(rb'^\{"error":\{"message":"'),
    "accepted": re.compile(rb'^\{"error":"[a-z_]+","message":"'),
    "connect": re.compile(rb'^\{"code":\d+,"error":"'),
    "vidispine": re.compile(rb"<ErrorDocument [^>]*><[a-zA-Z]+>"),
}
