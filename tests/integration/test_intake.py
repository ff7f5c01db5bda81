"""One intake for every interface, on both stores: JSON a store could not keep exactly (a lone
surrogate, a NUL, a non-finite or over-large number, too deep) is refused in the interface's
own error shape, whatever the case of its media type, and nothing is stored; text from
headers, forms, uploads and query strings is held to the same rules (jobq.fields)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobq.api.app import create_app
from jobq.config import Config
from tests import pgdb
from tests.authkit import add_person, auth_store_of, running_app
from tests.conftest import STORES

T02, T03, ACC, VS = "/titan-0.2/v1", "/titan-0.3/v1", "/accepted", "/API"


@pytest.fixture(params=STORES)
async def http(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    postgres = request.param == "postgres"
    url = await pgdb.create_database() if postgres else f"sqlite:///{tmp_path / 'jobq.db'}"
    app = create_app(Config(db=url))
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://127.0.0.1"
            ) as client:
                yield client
    finally:
        if postgres:
            await pgdb.drop_database(url)


# a hostile JSON value, as the bytes a client sends
VALUES = {
    "lone high surrogate": b'"a\\ud800b"',
    "lone low surrogate": b'"\\uDC00"',
    "NUL": b'"a\\u0000b"',
    "NaN": b"NaN",
    "Infinity": b"-Infinity",
    "1e400": b"1e400",
    "2**64": b"18446744073709551616",
    "below -2**63": b"-9223372036854775809",
    "NUL in a key": b'{"a\\u0000": 1}',
    "surrogate in a key": b'{"\\ud83d": 1}',
    "nested 300 deep": b"[" * 300 + b"]" * 300,
}
STRINGS = {"lone high surrogate", "lone low surrogate", "NUL"}


def native(value: bytes) -> tuple[str, bytes]:
    return "/api/v1/jobs", b'{"queue": "q", "payload": {"x": ' + value + b"}}"


def native_batch(value: bytes) -> tuple[str, bytes]:
    return "/api/v1/jobs", b'{"jobs": [{"queue": "q"}, {"queue": "q", "payload": ' + value + b"}]}"


def titan02(value: bytes) -> tuple[str, bytes]:
    return f"{T02}/jobs", b'{"jobs": [{"image": "i", "payload": ' + value + b"}]}"


def titan03(value: bytes) -> tuple[str, bytes]:
    body = b'{"jobs": [{"image": "i", "priority": 0, "payload": ' + value + b"}]}"
    return f"{T03}/groups/g/jobs", body


def accepted(value: bytes) -> tuple[str, bytes]:
    return f"{ACC}/jobs", b'{"queue": "q", "params": {"x": ' + value + b"}}"


def vidispine(value: bytes) -> tuple[str, bytes]:
    return f"{VS}/job?type=t", b'{"field": [{"key": "k", "value": ' + value + b"}]}"


def native_error(r: httpx.Response) -> bool:
    return r.status_code in (400, 422) and bool(r.json()["error"]["message"])


def titan_error(r: httpx.Response) -> bool:
    return r.status_code == 400 and set(r.json()["error"]) == {"message", "fields"}


def accepted_error(r: httpx.Response) -> bool:
    return r.status_code == 400 and {"error", "message"} <= set(r.json())


def vidispine_error(r: httpx.Response) -> bool:
    return r.status_code == 400 and "invalidInput" in r.json()


Route = Callable[[bytes], tuple[str, bytes]]
ROUTES: dict[str, tuple[Route, Callable[[httpx.Response], bool]]] = {
    "native": (native, native_error),
    "native batch": (native_batch, native_error),
    "titan 0.2": (titan02, titan_error),
    "titan 0.3": (titan03, titan_error),
    "accepted": (accepted, accepted_error),
    "vidispine": (vidispine, vidispine_error),
}
MEDIA_TYPES = ["application/json", "application/JSON", "APPLICATION/Json; charset=UTF-8"]


async def stored(http: httpx.AsyncClient) -> int:
    r = await http.get("/api/v1/jobs", params={"state": "queued,scheduled"})
    assert r.status_code == 200, r.text
    return len(r.json()["jobs"])


@pytest.mark.parametrize("media", MEDIA_TYPES)
@pytest.mark.parametrize("value", list(VALUES))
@pytest.mark.parametrize("route", list(ROUTES))
async def test_json_a_store_cannot_keep_is_refused_on_every_interface(
    http: httpx.AsyncClient, route: str, value: str, media: str
):
    build, shaped = ROUTES[route]
    path, body = build(VALUES[value])
    headers = {"content-type": media, "accept": "application/json"}
    r = await http.post(path, content=body, headers=headers)
    assert shaped(r), (r.status_code, r.text)
    assert await stored(http) == 0


@pytest.mark.parametrize("route", list(ROUTES))
async def test_a_valid_surrogate_pair_and_big_unsigned_integer_are_kept(
    http: httpx.AsyncClient, route: str
):
    build, _ = ROUTES[route]
    path, body = build(b'"\\ud83d\\ude00 \\\\u0000"')  # an emoji and an escaped backslash
    r = await http.post(path, content=body, headers={"content-type": "application/JSON"})
    assert r.status_code in (200, 201, 202), r.text
    assert await stored(http) >= 1


async def test_the_native_payload_keeps_64_bit_integers_exactly(http: httpx.AsyncClient):
    body = b'{"queue": "q", "payload": [18446744073709551615, -9223372036854775808]}'
    r = await http.post("/api/v1/jobs", content=body, headers={"content-type": "application/JSON"})
    assert r.status_code == 201, r.text
    got = await http.get(f"/api/v1/jobs/{r.json()['id']}")
    assert got.json()["payload"] == [2**64 - 1, -(2**63)]


# --- text that does not come as JSON: headers, forms, uploads, query strings ---


async def enqueue(http: httpx.AsyncClient, **job: Any) -> dict[str, Any]:
    r = await http.post("/api/v1/jobs", json={"queue": "q", **job})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_a_nul_in_a_metadata_filter_key_or_value_is_a_4xx(http: httpx.AsyncClient):
    await enqueue(http, metadata={"k": "v"})
    for params in ({"meta.k\x00": "v"}, {"meta.k": "v\x00"}):
        r = await http.get("/api/v1/jobs", params=params)
        assert native_error(r), r.text
    r = await http.get("/api/v1/jobs", params={"meta.k": "v"})
    assert len(r.json()["jobs"]) == 1  # everyone's filtered listing still works


async def test_titan02_success_whose_log_holds_a_nul_changes_nothing(http: httpx.AsyncClient):
    """All or nothing: the report is refused before the job succeeds (PostgreSQL cannot hold
    the log; SQLite refuses it the same way)."""
    r = await http.post(f"{T02}/jobs", json={"jobs": [{"image": "i"}]})
    [job] = (await http.get(f"{T02}/jobs/consume")).json()["jobs"]
    log = {"log": ("log.txt", b"before\x00after", "text/plain")}
    r = await http.post(f"{T02}/job/{job['id']}/success", files=log)
    assert titan_error(r), r.text
    assert (await http.get(f"{T02}/job/{job['id']}")).json()["job"]["status"] == "running"
    assert (await http.post(f"{T02}/job/{job['id']}/success")).status_code == 200


async def test_titan02_fail_details_with_a_nul_changes_nothing(http: httpx.AsyncClient):
    await http.post(f"{T02}/jobs", json={"jobs": [{"image": "i"}]})
    [job] = (await http.get(f"{T02}/jobs/consume")).json()["jobs"]
    form = {"reason": "bad_exit", "details": "a\x00b"}
    r = await http.post(f"{T02}/job/{job['id']}/fail", data=form)
    assert titan_error(r), r.text
    assert (await http.get(f"{T02}/job/{job['id']}")).json()["job"]["status"] == "running"


async def test_titan02_image_has_a_length_limit(http: httpx.AsyncClient):
    r = await http.post(f"{T02}/jobs", json={"jobs": [{"image": "i" * 201}]})
    assert titan_error(r), r.text
    assert await stored(http) == 0


async def test_titan03_log_upload_with_a_nul_is_refused(http: httpx.AsyncClient):
    r = await http.post(f"{T03}/groups/g/jobs", json={"jobs": [{"image": "i", "priority": 0}]})
    [job] = r.json()["jobs"]
    log = {"log": ("log.txt", b"a\x00b", "text/plain")}
    r = await http.post(f"{T03}/groups/g/jobs/{job['id']}/log", files=log)
    assert titan_error(r), r.text


async def test_vidispine_metadata_in_the_query_with_a_nul_is_refused(http: httpx.AsyncClient):
    r = await http.post(
        f"{VS}/job", params={"type": "t", "jobmetadata": "k=a\x00b"},
        headers={"accept": "application/json"},
    )  # fmt: skip
    assert vidispine_error(r), r.text
    assert await stored(http) == 0


@pytest.mark.parametrize(
    "url", ["http://a\r\nb.example/", "http://x.example/\x00", "http://x.example/a b",
            "http://x.example/\x7f", "http://x.example:port/", "https:///no-host", "ftp://x/"],
)  # fmt: skip
async def test_an_unusable_callback_url_is_refused_at_intake(http: httpx.AsyncClient, url: str):
    r = await http.post("/api/v1/jobs", json={"queue": "q", "callback_url": url})
    assert native_error(r), r.text
    assert await stored(http) == 0


@pytest.mark.parametrize("url", ["http://x.example/a b", "http://x.example:port/", "https:///x"])
async def test_an_unusable_accepted_callback_url_is_refused(http: httpx.AsyncClient, url: str):
    headers = {"X-Accepted-Callback-URL": url}
    r = await http.post(f"{ACC}/jobs", json={"queue": "q"}, headers=headers)
    assert accepted_error(r), r.text
    assert await stored(http) == 0


async def test_non_ascii_basic_credentials_answer_401(tmp_path: Path):
    async with running_app(tmp_path) as (app, http):
        await add_person(auth_store_of(app), "admin", admin=True)
        for value in ("Basic \u00fc\u00fc\u00fc\u00fc", "Basic wqDDqQ==\u00e9", "Basic //79/A=="):
            headers = {"authorization": value.encode("latin-1")}
            r = await http.get(f"{VS}/job", headers=headers)  # type: ignore[arg-type]
            assert r.status_code == 401, (value, r.status_code, r.text)


@pytest.mark.parametrize("after", [2**63, 2**64, 10**30])
async def test_a_log_cursor_past_64_bits_is_a_4xx(http: httpx.AsyncClient, after: int):
    job = await enqueue(http)
    for path in ("logs", "logs/stream"):
        r = await http.get(f"/api/v1/jobs/{job['id']}/{path}", params={"after": after})
        assert native_error(r), (path, r.text)
