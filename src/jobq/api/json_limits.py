"""What a JSON body may hold: integers that fit in 64 bits, finite floats, nesting jobq can
write back (orjson writes at most 254 levels; deeper, it raises and the request was a 500).

Python's json module reads 10**30 as an int and 1e400 as infinity, and accepts NaN; orjson, which
stores and renders every payload, cannot write the first (a 500) and writes the others as null
(the payload silently changed). A body holding such a number is refused as bad input, in the
interface's own error shape. A cheap byte scan finds candidates; only then is the body parsed
again, with hooks, to tell a huge number from a long string of digits.
"""

from __future__ import annotations

import json
import math
import re

from fastapi import Request

from jobq.errors import InvalidInput

# digits become 0, e/E become e, + stays, what may follow a number (whitespace , ] }) a space,
# anything else an x: then C-speed searches find long digit runs and exponents of 3 digits or
# more that end where a number ends (the only ways to write a huge number). Ids and lease keys
# hold "e123" too, but followed by a letter, a dash or a quote, so they no longer send almost
# every acknowledgement body to the slow parse below.
SHAPE_TABLE = bytes(
    ord("0") if c in b"0123456789" else ord("e") if c in b"eE" else c if c == ord("+")
    else ord(" ") if c in b" \t\r\n,]}" else ord("x")
    for c in range(256)
)  # fmt: skip
HUGE_EXPONENT = re.compile(rb"e\+?000+(?![^ ])")
STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
MAX_DEPTH = 200
BRACKETS = bytes.maketrans(b"{}", b"[]")
NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")
SMALLEST, LARGEST = -(2**63), 2**64 - 1


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


def check_numbers(body: bytes) -> None:
    """Raise InvalidInput if `body` is JSON holding a number jobq cannot keep exactly."""
    shape = body.translate(SHAPE_TABLE)
    if not (b"0" * 19 in shape or HUGE_EXPONENT.search(shape)
            or b"NaN" in body or b"Infinity" in body):  # fmt: skip
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


async def keepable_json(request: Request) -> None:
    """A route dependency: refuse bodies jobq could not keep exactly (see the module)."""
    body = request.scope.get("jobq.body")  # read once by jobq.api.limits.BodyLimit
    content_type = request.headers.get("content-type", "json")
    if isinstance(body, bytes) and "json" in content_type:  # not a form or an upload
        check_body(body)
