"""The checks that keep unkeepable JSON out (jobq.api.http.json_limits)."""

from __future__ import annotations

from types import SimpleNamespace

import orjson
import pytest

from jobq.api.http import json_limits
from jobq.api.http.json_limits import MAX_DEPTH, check_body, too_deep
from jobq.errors import InvalidInput


@pytest.mark.parametrize(
    "body",
    [b"[1e400]", b"[-1E+400]", b"[123456789012345678901234567890]", b"[NaN]", b"[-Infinity]",
     b"1e400", b'{"a": 1e4000}', b"[1E0400\n]", b'{"a": [2.5e+999 ,1]}',
     b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), b'{"a":' * 300 + b"1" + b"}" * 300],
)  # fmt: skip
def test_unkeepable_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(InvalidInput):
        check_body(body)


@pytest.mark.parametrize(
    "body",
    [b"[18446744073709551615]", b"[-9223372036854775808]", b"[1.5e300]", b"[1e-400]",
     b'["123456789012345678901234567890", "NaN"]', b'["' + b"[" * 500 + b'"]',
     b'["\\"' + b"[" * 500 + b'"]', b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, b"not json [[[",
     orjson.dumps({"jobs": [{"queue": "q", "payload": [1, {"a": "]["}]}] * 500})],
)  # fmt: skip
def test_keepable_bodies_pass(body: bytes) -> None:
    check_body(body)


def test_every_refused_depth_is_one_orjson_could_not_write() -> None:
    for depth in (MAX_DEPTH, MAX_DEPTH + 1, 254, 255):
        nested: object = []
        for _ in range(depth - 1):
            nested = [nested]
        writable = True
        try:
            orjson.dumps(nested)
        except TypeError:
            writable = False
        assert writable or too_deep(b"[" * depth + b"]" * depth)


def test_ids_and_keys_that_look_like_exponents_are_not_parsed_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Job ids and lease keys hold `e` and three digits, followed by a letter, a dash or a
    quote, never by what ends a number: the byte scan alone clears them."""

    def parsed_again(*args: object, **kwargs: object) -> None:
        raise AssertionError("the body was parsed again")

    monkeypatch.setattr(json_limits, "json", SimpleNamespace(loads=parsed_again))
    acks = [{"id": "0190e5a1-7f4a-8e0d-e4251eef", "token": "qAe123x-e456.e789"},
            {"id": "e999", "token": "5E1234", "result": [1.5e30, "1e400x"]}]  # fmt: skip
    check_body(orjson.dumps({"acks": acks}))
    with pytest.raises(AssertionError):
        check_body(b'{"acks": [], "n": 1e400}')  # a real huge exponent still is
