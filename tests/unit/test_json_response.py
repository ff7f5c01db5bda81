"""Responses render with orjson; keys that are not strings are written as strings."""

from __future__ import annotations

import orjson

from jobq.api.http.responses import JSONResponse


def test_a_body_with_string_keys_renders_as_with_the_option() -> None:
    body = {"jobs": [{"id": "a", "payload": {"x": [1, 2.5, None]}, "created": True}]}
    assert JSONResponse(body).body == orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)


def test_keys_that_are_not_strings_are_written_as_strings() -> None:
    assert orjson.loads(JSONResponse({1: "one", "two": {3: True}}).body) == {
        "1": "one",
        "two": {"3": True},
    }
