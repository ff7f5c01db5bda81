"""The one JSON intake of every route of every interface: what a JSON body may hold.

Integers that fit in 64 bits, finite floats, nesting jobq can write back (orjson writes at most
254 levels; deeper, it raises, which would be a 500), and strings a store can keep: no NUL
(PostgreSQL holds none in text or jsonb) and no lone surrogate (no store can write one as UTF-8).

Python's json module reads 10**30 as an int and 1e400 as infinity, and accepts NaN and lone
surrogates; orjson, which stores and renders every payload, cannot write the first or the last
(a 500) and writes the others as null (the payload silently changed); orjson reads 2**64 as a
float. A body holding any of these is refused as bad input, in the interface's own error shape.
A cheap byte scan finds candidates; only then is the body parsed again, with hooks, to tell a
huge number from a long string of digits, or a NUL from an escaped backslash.

Every body an interface reads as JSON passes here: FastAPI's JSON bodies through the
`keepable_json` dependency (its media type matched as FastAPI matches it: case-insensitively,
`application/json` or `application/*+json`), the bodies the dialects read themselves through
`read_json`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson
from fastapi import Request

from jobq.errors import InvalidInput
from jobq.fields import UNSTORABLE

# digits become 0, e/E become e, + stays, what may follow a number (whitespace , ] }) a space,
# anything else an x: then C-speed searches find long digit runs and exponents of 3 digits or
# more that end where a number ends (the only ways to write a huge number). Ids and lease keys
# hold "e123" too, but followed by a letter, a dash or a quote, so they do not send almost
# every acknowledgement body to the slow parse below.
SHAPE_TABLE = bytes(
    ord("0")
    if c in b"0123456789"
    else ord("e")
    if c in b"eE"
    else c
    if c == ord("+")
    else ord(" ")
    if c in b" \t\r\n,]}"
    else ord("x")
    for c in range(256)
)
HUGE_EXPONENT = re.compile(rb"e\+?000+(?![^ ])")
STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
MAX_DEPTH = 200
BRACKETS = bytes.maketrans(b"{}", b"[]")
NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")
SMALLEST, LARGEST = -(2**63), 2**64 - 1
# an escaped NUL or surrogate (a pair is fine, but telling takes the parse below)
ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


class OutOfRange(ValueError):
    pass


def _int(text: str) -> int:
    value = int(text)
    if not SMALLEST <= value <= LARGEST:
        raise OutOfRange(text)
    return value


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise OutOfRange(text)
    return value


def _constant(text: str) -> float:
    raise OutOfRange(text)


def too_deep(body: bytes) -> bool:
    """Whether `body` nests arrays and objects more than MAX_DEPTH levels deep (each pass
    strips the innermost level, at C speed; strings are removed first)."""
    if body.count(b"[") + body.count(b"{") <= MAX_DEPTH:
        return False
    brackets = STRING.sub(b"", body).translate(BRACKETS, NOT_BRACKETS)
    for _ in range(MAX_DEPTH):
        inner = brackets.replace(b"[]", b"")
        if not inner or inner == brackets:
            return False
        brackets = inner
    return True


def check_body(body: bytes) -> None:
    """Raise InvalidInput if `body` is JSON that jobq could not keep exactly."""
    if too_deep(body):
        raise InvalidInput(f"the body nests deeper than {MAX_DEPTH} levels", max_depth=MAX_DEPTH)
    check_numbers(body)
    check_strings(body)


def check_strings(body: bytes) -> None:
    """Raise InvalidInput if a string in JSON `body` (a key or a value) holds a NUL or a lone
    surrogate: escaped, as raw bytes neither is valid JSON."""
    if b"\\u" not in body or not ESCAPE.search(body):
        return
    try:
        value = json.loads(body)
    except ValueError:
        return  # not JSON at all: the route's own parsing says so
    if any(UNSTORABLE.search(text) for text in _strings(value)):
        raise InvalidInput(
            "a string in the body holds a NUL character or a lone surrogate, which jobq "
            "cannot store"
        )


def _strings(value: Any) -> list[str]:
    """Every string in a parsed JSON value, keys too (without recursion: the depth is checked
    before, but a stack is as cheap)."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            found.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def check_numbers(body: bytes) -> None:
    """Raise InvalidInput if `body` is JSON holding a number jobq cannot keep exactly."""
    shape = body.translate(SHAPE_TABLE)
    if not (
        b"0" * 19 in shape or HUGE_EXPONENT.search(shape) or b"NaN" in body or b"Infinity" in body
    ):
        return
    try:
        json.loads(body, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except OutOfRange as exc:
        raise InvalidInput(
            "a number in the body is out of range: integers must fit in 64 bits and "
            "numbers must be finite",
            number=str(exc)[:40],
        ) from None
    except ValueError:
        return  # not JSON at all: the route's own parsing says so


def is_json(content_type: str | None) -> bool:
    """Whether FastAPI reads a body of this media type as JSON: none given, `application/json`
    or `application/*+json`, in any case (media types are case-insensitive)."""
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def read_json(body: bytes) -> Any:
    """`body` as JSON jobq can keep exactly; InvalidInput if it is not JSON or holds what
    jobq cannot keep. The reader of every body a dialect parses itself."""
    check_body(body)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidInput("the request body is not valid JSON") from None


async def keepable_json(request: Request) -> None:
    """A route dependency: refuse bodies jobq could not keep exactly (see the module)."""
    body = request.scope.get("jobq.body")  # read once by jobq.api.http.limits.BodyLimit
    if isinstance(body, bytes) and is_json(request.headers.get("content-type")):
        check_body(body)  # not a form or an upload
