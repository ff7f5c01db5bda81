"""The fast route reads an enqueue body as `body_reading` derives it from the route, FastAPI as
the route declares it (`OneOrMany`): every body one accepts the other accepts, as the same model
with the same values (jobq.api.http.fast)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from pydantic import TypeAdapter, ValidationError

from jobq.api.http.fast import body_reading
from jobq.api.native import routes as native
from jobq.api.native.schemas import OneOrMany

DECLARED: TypeAdapter[Any] = TypeAdapter(OneOrMany)
FAST = body_reading(next(r for r in native.router.routes if r.name == "enqueue"))  # type: ignore[arg-type]

JOB = {"queue": "q", "type": "t", "payload": {"n": 1}, "priority": 3}
BODIES = [
    JOB,
    {},
    {"queue": "q"},
    {"jobs": [JOB, {"queue": "r"}]},
    {"jobs": [{}]},
    {"jobs": [JOB] * 100},
    # refused by both
    {"jobs": []},
    {"jobs": [JOB], "queue": "q"},
    {"jobs": [{"queue": "bad queue"}]},
    {"jobs": JOB},
    {"jobs": None},
    {**JOB, "jobs": [JOB]},
    {**JOB, "extra": 1},
    {"queue": ""},
    {"payload": None, "metadata": {"k": 1}},
    [JOB],
    "job",
    None,
    3,
]


def outcome(adapter: TypeAdapter[Any], body: Any) -> Any:
    try:
        model = adapter.validate_json(orjson.dumps(body))
    except ValidationError:
        return "refused"
    return type(model).__name__, model.model_dump()


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_both_readings_agree(body: Any) -> None:
    assert outcome(FAST, body) == outcome(DECLARED, body)


def test_the_bodies_cover_both_models_and_refusals() -> None:
    outcomes = [outcome(DECLARED, body) for body in BODIES]
    kinds = {o if o == "refused" else o[0] for o in outcomes}
    assert kinds == {"JobIn", "JobBatchIn", "refused"}
