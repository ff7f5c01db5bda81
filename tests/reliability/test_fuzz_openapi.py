"""Schemathesis against the OpenAPI document of the native API and of every dialect.

Each document is fuzzed against its own fresh server (an app served in-process, SQLite file
store). Checks: no 5xx, status codes, content types and bodies as documented.

Left out, and why:
- POST /api/v1/users and POST /api/v1/keys: the first user or key turns a loopback server from
  open to keyed, after which every other request is a (documented) 401; the auth tests cover
  those routes.
- streams (GET /api/v1/events, GET /api/v1/jobs/{id}/logs/stream): a server-sent event stream
  never ends, so there is no response to validate.
- the dashboard (/ui/...): HTML and forms, not an API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks

from jobq.config import Config
from jobq.engine import Defaults
from tests.reliability.figures import record, size
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
        failures[operation.label] = str(exc)[:3000]
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
