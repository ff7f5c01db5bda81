"""Schemathesis against the OpenAPI document of the native API and of every dialect.

Each document is fuzzed against its own fresh server (an app served in-process, SQLite file
store). Checks: no 5xx, status codes, content types and bodies as documented.

Then the classes of input no schema describes (tests/reliability/hostile_bodies.py), on every
interface and both stores: each operation that takes a body gets generated cases with one
value or key replaced by what no store keeps exactly (a lone surrogate, a NUL, NaN, an
infinity, 1e400, an integer past 64 bits) under a JSON media type of any case, and must
answer 400/422 in its interface's own error shape; and enqueues on every interface that takes
reserved `jobq.*` metadata (native, Titan's retry fields, Vidispine's jobmetadata) must never
store a value out of its bounds, nor stop a listing from answering.

Left out, and why:
- POST /api/v1/users and POST /api/v1/keys: the first user or key turns a loopback server from
  open to keyed, after which every other request is a (documented) 401; the auth tests cover
  those routes.
- streams (GET /api/v1/events, GET /api/v1/jobs/{id}/logs/stream): a server-sent event stream
  never ends, so there is no response to validate.
- the dashboard (/ui/...): HTML and forms, not an API.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import checks

from jobq import reserved
from jobq.config import Config
from jobq.engine import Defaults
from jobq.errors import InvalidInput
from tests import pgdb
from tests.conftest import STORES
from tests.reliability.figures import record, size
from tests.reliability.hostile_bodies import (
    MEDIA,
    RESERVING,
    SHAPES,
    Hostile,
    poisoned,
    reserving,
)
from tests.reliability.inprocess import serve_in_thread

pytestmark = pytest.mark.reliability
EXAMPLES = size(10, 100)  # per operation
# the root document holds the native API; each dialect serves PREFIX/openapi.json
DOCUMENTS = {
    "native": ("", "/api/v1"),
    "titan-0.2": ("/titan-0.2/v1", ""),
    "titan-0.3": ("/titan-0.3/v1", ""),
    "accepted": ("/accepted", ""),
    "connect": ("/__api__", ""),
    "vidispine": ("/API", ""),
}
LEFT_OUT = {
    ("POST", "/api/v1/users"), ("POST", "/api/v1/keys"),
    ("GET", "/api/v1/events"), ("GET", "/api/v1/jobs/{job_id}/logs/stream"),
}  # fmt: skip
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


def fuzz_operation(operation: Any, base_url: str, failures: dict[str, str]) -> int:
    """Run up to EXAMPLES generated requests; the number sent."""
    sent = 0

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate])  # fmt: skip
    def run(case: Any) -> None:
        nonlocal sent
        sent += 1
        response = case.call(base_url=base_url, timeout=60)
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:
        failures[operation.label] = explained(exc)
    return sent


@pytest.mark.parametrize("dialect", list(DOCUMENTS))
def test_no_request_breaks_the_server_or_its_documented_responses(dialect: str, tmp_path: Path):
    prefix, part = DOCUMENTS[dialect]
    config = Config(db=f"sqlite:///{tmp_path / 'fuzz.db'}",
                    defaults=Defaults(max_claim_wait=0.2, max_result_wait=0.2))  # fmt: skip
    failures: dict[str, str] = {}
    sent = operations = 0
    with serve_in_thread(config) as url:
        schema = schemathesis.openapi.from_url(f"{url}{prefix}/openapi.json")
        for result in schema.get_all_operations():
            operation = result.ok()
            if not operation.path.startswith(part) or (operation.method.upper(),
                                                       operation.path) in LEFT_OUT:  # fmt: skip
                continue
            operations += 1
            sent += fuzz_operation(operation, url + prefix, failures)
    record(f"fuzz_{dialect}", operations=operations, requests=sent, failures=len(failures))
    assert operations > 0 and sent >= operations
    assert failures == {}, "\n\n".join(f"{k}: {v}" for k, v in failures.items())


def explained(exc: BaseException) -> str:
    """The failure and, for a group (Hypothesis's flaky report), each of its exceptions."""
    parts = [str(exc)] + [repr(e) for e in getattr(exc, "exceptions", ())]
    return "\n".join(parts)[:3000]


SENDABLE = re.compile(r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$")  # a header value httpx sends
FAMILY = {"native": "native", "titan-0.2": "titan", "titan-0.3": "titan",
          "accepted": "accepted", "connect": "connect", "vidispine": "vidispine"}  # fmt: skip


@contextmanager
def fuzz_server(store: str, tmp_path: Path) -> Iterator[str]:
    """A fresh server on `store` (a SQLite file or a new PostgreSQL database)."""
    db = f"sqlite:///{tmp_path / 'fuzz.db'}" if store == "sqlite" else pgdb.create_database_sync()
    config = Config(db=db, defaults=Defaults(max_claim_wait=0.2, max_result_wait=0.2))
    try:
        with serve_in_thread(config) as url:
            yield url
    finally:
        if store == "postgres":
            pgdb.drop_database_sync(db)


def operations_of(url: str, dialect: str) -> Iterator[Any]:
    prefix, part = DOCUMENTS[dialect]
    schema = schemathesis.openapi.from_url(f"{url}{prefix}/openapi.json")
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.startswith(part) and (operation.method.upper(),
                                                operation.path) not in LEFT_OUT:  # fmt: skip
            yield operation


def send_hostile(client: httpx.Client, prefix: str, case: Any, hostile: Hostile) -> httpx.Response:
    """The case's method, path, query and headers (no key: the server is open), with the
    hostile body and media type."""
    kept = ("content-type", "authorization")
    headers = {k: v for k, v in (case.headers or {}).items()
               if k.lower() not in kept and SENDABLE.match(v)}  # fmt: skip
    return client.request(case.method, prefix + case.formatted_path, params=case.query,
                          content=hostile.body,
                          headers={**headers, "content-type": hostile.media})  # fmt: skip


def hostile_operation(operation: Any, client: httpx.Client, dialect: str,
                      failures: dict[str, str]) -> int:  # fmt: skip
    """Send up to EXAMPLES poisoned requests to one operation; the number sent."""
    sent = 0

    @given(data=st.data())
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate])  # fmt: skip
    def run(data: st.DataObject) -> None:
        nonlocal sent
        case = data.draw(operation.as_strategy())
        body = case.body if isinstance(case.body, dict | list) else None
        hostile = data.draw(poisoned(body))
        sent += 1
        r = send_hostile(client, DOCUMENTS[dialect][0], case, hostile)
        context = f"{hostile.label}: {r.status_code} {r.text[:300]}"
        assert r.status_code in (400, 422), context
        assert SHAPES[FAMILY[dialect]].search(r.content), context

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:
        failures[operation.label] = explained(exc)
    return sent


def stored_reserved_metadata_is_in_bounds(client: httpx.Client) -> int:
    """Every job's reserved metadata passes jobq.reserved's checks; the number of jobs."""
    seen, cursor = 0, None
    while True:
        r = client.get("/api/v1/jobs", params={"limit": 1000, **({"cursor": cursor} if cursor
                                                                   else {})})  # fmt: skip
        assert r.status_code == 200, r.text
        for job in r.json()["jobs"]:
            reserved.check(job["metadata"])
            seen += 1
        if (cursor := r.json()["next_cursor"]) is None:
            return seen


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("dialect", list(DOCUMENTS))
def test_unkeepable_json_anywhere_in_a_body_is_refused_in_the_interfaces_shape(
    dialect: str, store: str, tmp_path: Path
):
    """On every interface and both stores: a body holding a lone surrogate, a NUL, a
    non-finite or huge number (in any value or key, under a JSON media type of any case) is
    a 400/422 in the interface's own error shape, on every route that takes a body."""
    failures: dict[str, str] = {}
    sent = operations = 0
    with fuzz_server(store, tmp_path) as url, httpx.Client(base_url=url, timeout=60) as client:
        for operation in operations_of(url, dialect):
            if operation.method.upper() != "GET":  # a GET's body is never read
                operations += 1
                sent += hostile_operation(operation, client, dialect, failures)
    record(f"fuzz_unkeepable_{dialect}_{store}", operations=operations, requests=sent,
           failures=len(failures))  # fmt: skip
    assert operations > 0 and sent > 0
    assert failures == {}, "\n\n".join(f"{k}: {v}" for k, v in failures.items())


@pytest.mark.parametrize("store", STORES)
def test_reserved_metadata_out_of_bounds_is_never_stored(store: str, tmp_path: Path):
    """Enqueues with reserved metadata, in and out of bounds, on every interface that takes
    it: never a 5xx; native answers 2xx exactly when jobq.reserved accepts the metadata; no
    job anywhere holds a reserved value out of bounds, and every listing still answers."""
    sent: dict[int, int] = {}
    with fuzz_server(store, tmp_path) as url, httpx.Client(base_url=url, timeout=60) as client:

        @given(data=st.data())
        @settings(max_examples=EXAMPLES * 10, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def run(data: st.DataObject) -> None:
            job = data.draw(reserving(data.draw(st.sampled_from(RESERVING))))
            media = data.draw(st.sampled_from(MEDIA))
            r = client.post(job.path, content=job.body, headers={"content-type": media})
            sent[r.status_code] = sent.get(r.status_code, 0) + 1
            context = f"{job.label}: {r.status_code} {r.text[:300]}"
            assert r.status_code < 500, context
            if job.exact:
                assert r.is_success == in_bounds(job.metadata), context

        run()
        jobs = stored_reserved_metadata_is_in_bounds(client)
        for listing in LISTINGS:
            assert client.get(listing).status_code == 200, listing
    record(f"fuzz_reserved_{store}", answers=sent, jobs=jobs)
    assert jobs > 0 and sum(n for status, n in sent.items() if status >= 400) > 0


LISTINGS = ["/api/v1/jobs", "/api/v1/problems", "/api/v1/queues", "/API/job",
            "/titan-0.2/v1/jobs", "/titan-0.3/v1/groups/g/jobs"]  # fmt: skip


def in_bounds(metadata: dict[str, str]) -> bool:
    try:
        reserved.check(metadata)
    except InvalidInput:
        return False
    return True
